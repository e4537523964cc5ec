"""The report endpoint consumers call with their own token
(POST /api/v1/estate/consumers/<id>/report), /api/v1/estate/drift-findings and
/api/v1/estate/who-trusts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import HashedTokenAuthentication
from accounts.roles import Perm, domains_with
from config.errors import NotFound
from pki.api.common import DomainScopedViewSet, StrictSerializer, person, validated
from truststores.estate import catalog, inventory, queries, reports
from truststores.estate.models import Consumer, DriftFinding


class ConsumerTokenAuthentication(BaseAuthentication):
    """`Authorization: Token ancc_...`: a consumer's report token, for the consumer the URL
    names only. Other tokens are left to the user token authentication after it."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, Consumer] | None:
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"token":
            return None
        if not parts[1].startswith(inventory.TOKEN_PREFIX.encode()):
            return None
        kwargs = (request.parser_context or {}).get("kwargs", {})
        try:
            consumer = reports.authenticate(str(kwargs.get("pk", "")), parts[1].decode("ascii"))
        except (reports.NotAuthenticated, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed(
                "unknown consumer or wrong report token"
            ) from None
        return AnonymousUser(), consumer

    def authenticate_header(self, request: Request) -> str:
        return "Token"


class ConsumerOrUser(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, Consumer) or bool(request.user.is_authenticated)


class ReportSerializer(StrictSerializer):
    fingerprints = serializers.JSONField()
    certificates = serializers.JSONField(required=False)
    reporter = serializers.CharField(max_length=100, allow_blank=True, default="")


class ReportView(APIView):
    """POST /api/v1/estate/consumers/<id>/report: `{"fingerprints": [hex, ...],
    "certificates": [PEM, ...] (optional), "reporter": "agent"}`. Authenticated by the
    consumer's own token, or by a user holding estate.manage in its domain."""

    authentication_classes = [ConsumerTokenAuthentication, HashedTokenAuthentication]
    permission_classes = [ConsumerOrUser]
    queryset = Consumer.objects.all()  # names the model for the URLconf walk
    lookup_field = "pk"
    hides_other_domains = True

    @extend_schema(request=ReportSerializer, responses={202: dict})
    def post(self, request: Request, pk: str) -> Response:
        consumer = (
            request.auth if isinstance(request.auth, Consumer) else self._for_user(request, pk)
        )
        data = validated(ReportSerializer, request)
        prints = reports.normalise(data["fingerprints"], data.get("certificates"))
        state = reports.record_report(consumer, prints, data["reporter"])
        return Response(
            {"consumer": consumer.pk, "count": len(prints), "reportedAt": state.reported_at},
            status=status.HTTP_202_ACCEPTED,
        )

    def _for_user(self, request: Request, pk: str) -> Consumer:
        user = person(request)
        visible = domains_with(user, Perm.DOMAIN_VIEW)
        consumer = (
            Consumer.objects.select_related("domain").filter(pk=pk, domain__in=visible).first()
        )
        if consumer is None:
            raise NotFound(f"no consumer {pk}")
        catalog.require(user, Perm.ESTATE_MANAGE, consumer.domain)
        return consumer


class FindingSerializer(serializers.ModelSerializer[DriftFinding]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    consumerName = serializers.CharField(source="consumer.name", read_only=True)
    firstSeen = serializers.DateTimeField(source="first_seen", read_only=True)
    lastSeen = serializers.DateTimeField(source="last_seen", read_only=True)
    resolvedAt = serializers.DateTimeField(source="resolved_at", read_only=True)

    class Meta:
        model = DriftFinding
        fields = [
            "id",
            "domain",
            "consumer",
            "consumerName",
            "kind",
            "fingerprint",
            "firstSeen",
            "lastSeen",
            "resolvedAt",
        ]


class DriftFindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet):
    """?consumer=<id>, ?kind=missing|extra|stale_report, ?open=true|false."""

    serializer_class = FindingSerializer
    lookup_value_regex = "[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[DriftFinding]:
        qs = self.scoped(DriftFinding.objects.select_related("domain", "consumer"))
        params = self.request.query_params
        if self.action == "list":
            if params.get("consumer", "").isdigit():
                qs = qs.filter(consumer_id=int(params["consumer"][:18]))
            if params.get("kind"):
                qs = qs.filter(kind=params["kind"])
            if params.get("open") in ("true", "1"):
                qs = qs.filter(resolved_at__isnull=True)
            elif params.get("open") in ("false", "0"):
                qs = qs.filter(resolved_at__isnull=False)
        return qs


class WhoTrustsView(APIView):
    """GET /api/v1/estate/who-trusts?fingerprint=<sha256>[&domain=<slug>]: the lists holding
    the CA, the consumers that should trust it (their list) and that do (their report), and
    our issued certificates that chain to it."""

    @extend_schema(responses=dict)
    def get(self, request: Request) -> Response:
        user = person(request)
        domains = domains_with(user, Perm.DOMAIN_VIEW)
        slug = request.query_params.get("domain")
        if slug:
            domains = domains.filter(slug=slug)
        given = request.query_params.get("fingerprint", "")
        if not given:
            return Response({"fingerprint": None, "detail": "name a CA with ?fingerprint="})
        answer = queries.who_trusts(list(domains.values_list("pk", flat=True)), given)
        limit = 1000

        def names(qs: QuerySet[Consumer]) -> list[dict[str, Any]]:
            return [
                {"id": c.pk, "name": c.name, "domain": c.domain.slug, "kind": c.kind}
                for c in qs.select_related("domain")[:limit]
            ]

        certificates = answer.certificates.order_by("not_after")
        return Response(
            {
                "fingerprint": answer.fingerprint,
                "cas": [{"subject": ca.subject, "notAfter": ca.not_after} for ca in answer.cas],
                "trustLists": [
                    {"id": t.pk, "slug": t.slug, "scope": t.scope} for t in answer.lists
                ],
                "consumersByList": names(answer.by_list),
                "consumersByReport": names(answer.by_report),
                "consumerCount": answer.consumers.count(),
                "issuingCas": [ca.slug for ca in answer.issuing_cas],
                "certificateCount": certificates.count(),
                "certificates": [
                    {"serial": c.serial, "subject": c.subject, "notAfter": c.not_after}
                    for c in certificates.filter(status="valid")[:limit]
                ],
            }
        )
