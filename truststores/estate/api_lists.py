"""/api/v1/estate/trust-lists and /api/v1/estate/trust-list-changes: authoritative lists,
their versions and exports, and changes decided through the approval engine (one approval
to add a CA, two and a removal plan to remove one). camelCase JSON, like the truststores API.
Another domain's list or change answers 404."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Perm
from approvals.api import CommentSerializer
from config.errors import Conflict, NotFound
from pki.api.common import (
    DecidedByApprovalViewSet,
    DomainScopedViewSet,
    StrictSerializer,
    comment,
    domain_for,
    file_response,
    person,
    validated,
)
from truststores.estate import catalog, changes, exports
from truststores.estate.models import (
    RemovalPlan,
    TrustedCA,
    TrustList,
    TrustListChange,
    TrustListVersion,
    TrustScope,
)


def ca_json(ca: TrustedCA) -> dict[str, Any]:
    return {
        "fingerprint": ca.fingerprint,
        "subject": ca.subject,
        "issuer": ca.issuer,
        "notAfter": ca.not_after.isoformat(),
        "selfSigned": ca.self_signed,
    }


def version_json(version: TrustListVersion | None, *, with_cas: bool = True) -> Any:
    if version is None:
        return None
    data: dict[str, Any] = {
        "number": version.number,
        "createdAt": version.created_at.isoformat(),
        "createdBy": version.created_by.get_username() if version.created_by else None,
        "change": version.change_id,
        "restoredFrom": version.restored_from.number if version.restored_from else None,
        "note": version.note,
    }
    if with_cas:
        data["cas"] = [ca_json(ca) for ca in catalog.version_cas(version)]
    return data


class TrustListSerializer(serializers.ModelSerializer[TrustList]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    scopeLabel = serializers.CharField(source="get_scope_display", read_only=True)
    currentVersion = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = TrustList
        fields = [
            "id",
            "domain",
            "slug",
            "name",
            "scope",
            "scopeLabel",
            "description",
            "currentVersion",
            "createdAt",
        ]

    def get_currentVersion(self, obj: TrustList) -> Any:
        return version_json(obj.current_version)


class TrustListCreateSerializer(StrictSerializer):
    domain = serializers.SlugField(max_length=63)
    slug = serializers.SlugField(max_length=80)
    name = serializers.CharField(max_length=200)
    scope = serializers.ChoiceField(choices=TrustScope.values)
    description = serializers.CharField(max_length=4000, allow_blank=True, default="")


class RollbackSerializer(StrictSerializer):
    version = serializers.IntegerField(min_value=1, max_value=10**9)
    reason = serializers.CharField(max_length=2000)


class AddBackSerializer(StrictSerializer):
    fingerprints = serializers.ListField(
        child=serializers.RegexField(catalog.FINGERPRINT_PATTERN), min_length=1, max_length=100
    )
    reason = serializers.CharField(max_length=2000)


class FirstRenderer(DefaultContentNegotiation):
    """Exports take ?format=pem|pkcs7|jks|configmap, which DRF would otherwise read as a
    renderer name (URL_FORMAT_OVERRIDE); the file response needs no renderer."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, str(first.media_type)


class TrustListViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet):
    serializer_class = TrustListSerializer
    lookup_value_regex = "[0-9]{1,18}"
    domain_perms = {
        "rollback": Perm.ESTATE_APPROVE,
        "add_back": Perm.ESTATE_APPROVE,
        "*": Perm.DOMAIN_VIEW,
    }

    def get_queryset(self) -> QuerySet[TrustList]:
        qs = self.scoped(
            TrustList.objects.select_related(
                "domain", "current_version__created_by", "current_version__restored_from"
            )
        )
        scope = self.request.query_params.get("scope")
        if scope and self.action == "list":
            qs = qs.filter(scope=scope)
        return qs

    @extend_schema(request=TrustListCreateSerializer, responses={201: TrustListSerializer})
    def create(self, request: Request) -> Response:
        data = validated(TrustListCreateSerializer, request)
        user = person(request)
        domain = domain_for(data["domain"], user, Perm.ESTATE_MANAGE)
        created = catalog.create_list(
            domain,
            user,
            scope=data["scope"],
            name=data["name"],
            slug=data["slug"],
            description=data["description"],
        )
        return Response(TrustListSerializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        versions = TrustListVersion.objects.filter(trust_list=obj).select_related(
            "created_by", "restored_from"
        )
        return Response([version_json(v, with_cas=False) for v in versions.order_by("-number")])

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"], content_negotiation_class=FirstRenderer)
    def export(self, request: Request, pk: str | None = None) -> Any:
        """?format=pem (default) | pkcs7 | jks | configmap; ?version=<n> (default: current);
        ?password= for jks (default changeit); ?namespace= and ?name= for configmap."""
        obj = self.get_object()
        params = request.query_params
        version = self._version(obj, params.get("version", ""))
        result = exports.export(
            version,
            params.get("format", "pem"),
            password=params.get("password", exports.DEFAULT_STORE_PASSWORD),
            namespace=params.get("namespace", "default"),
            name=params.get("name") or None,
        )
        return file_response(result.content, result.content_type, result.filename)

    @extend_schema(request=RollbackSerializer, responses=TrustListSerializer)
    @action(detail=True, methods=["post"])
    def rollback(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        data = validated(RollbackSerializer, request)
        target = self._version(obj, str(data["version"]))
        changes.rollback(obj, target, person(request), data["reason"])
        return Response(TrustListSerializer(self.get_queryset().get(pk=obj.pk)).data)

    @extend_schema(request=AddBackSerializer, responses=TrustListSerializer)
    @action(detail=True, methods=["post"], url_path="add-back")
    def add_back(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        data = validated(AddBackSerializer, request)
        cas = catalog.cas_by_fingerprint(obj.domain, data["fingerprints"])
        changes.add_back(obj, cas, person(request), data["reason"])
        return Response(TrustListSerializer(self.get_queryset().get(pk=obj.pk)).data)

    def _version(self, obj: TrustList, number: str) -> TrustListVersion:
        if not number:
            if obj.current_version is None:
                raise NotFound(f"list {obj.slug} has no version")
            return obj.current_version
        if not number.isdigit() or len(number) > 9:
            raise ValidationError({"version": "a version number"})
        found = TrustListVersion.objects.filter(trust_list=obj, number=int(number)).first()
        if found is None:
            raise NotFound(f"list {obj.slug} has no version {number}")
        return found


class ChangeSerializer(serializers.ModelSerializer[TrustListChange]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    trustList = serializers.IntegerField(source="trust_list_id", read_only=True)
    trustListSlug = serializers.CharField(source="trust_list.slug", read_only=True)
    cas = serializers.SerializerMethodField()
    baseVersion = serializers.IntegerField(source="base_version.number", read_only=True)
    resultVersion = serializers.SerializerMethodField()
    removalPlan = serializers.IntegerField(source="removal_plan_id", read_only=True)
    proposedBy = serializers.CharField(source="proposed_by.get_username", read_only=True)
    approval = serializers.IntegerField(source="approval_id", read_only=True)
    requiredApprovals = serializers.IntegerField(
        source="approval.required_approvals", read_only=True
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    decidedAt = serializers.DateTimeField(source="decided_at", read_only=True)

    class Meta:
        model = TrustListChange
        fields = [
            "id",
            "domain",
            "trustList",
            "trustListSlug",
            "action",
            "cas",
            "state",
            "reason",
            "baseVersion",
            "resultVersion",
            "removalPlan",
            "proposedBy",
            "approval",
            "requiredApprovals",
            "createdAt",
            "decidedAt",
        ]

    def get_cas(self, obj: TrustListChange) -> list[dict[str, Any]]:
        return [ca_json(ca) for ca in obj.cas.all()]

    def get_resultVersion(self, obj: TrustListChange) -> int | None:
        found = TrustListVersion.objects.filter(change=obj).values_list("number", flat=True)
        return found.first()


class ProposeSerializer(StrictSerializer):
    trustList = serializers.IntegerField(min_value=1, max_value=10**18)
    action = serializers.ChoiceField(choices=TrustListChange.Action.values)
    # New CAs as PEM (added to the domain's known CAs), or known CAs by fingerprint.
    certificates = serializers.CharField(max_length=6 * 1024 * 1024, required=False)
    fingerprints = serializers.ListField(
        child=serializers.RegexField(catalog.FINGERPRINT_PATTERN), required=False, max_length=500
    )
    removalPlan = serializers.IntegerField(min_value=1, max_value=10**18, required=False)
    reason = serializers.CharField(max_length=4000, allow_blank=True, default="")


class TrustListChangeViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, DecidedByApprovalViewSet
):
    serializer_class = ChangeSerializer
    lookup_value_regex = "[0-9]{1,18}"
    domain_perms = {
        "approve": Perm.ESTATE_APPROVE,
        "reject": Perm.ESTATE_APPROVE,
        "*": Perm.DOMAIN_VIEW,
    }

    def get_queryset(self) -> QuerySet[TrustListChange]:
        qs = self.scoped(
            TrustListChange.objects.select_related(
                "domain", "trust_list", "base_version", "proposed_by", "approval"
            ).prefetch_related("cas")
        )
        params = self.request.query_params
        if self.action == "list":
            for name, field in (("state", "state"), ("action", "action")):
                if params.get(name):
                    qs = qs.filter(**{field: params[name]})
            if params.get("trustList", "").isdigit():
                qs = qs.filter(trust_list_id=int(params["trustList"][:18]))
        return qs

    @extend_schema(request=ProposeSerializer, responses={201: ChangeSerializer})
    def create(self, request: Request) -> Response:
        data = validated(ProposeSerializer, request)
        user = person(request)
        visible = TrustList.objects.filter(domain__in=self.visible_domains())
        trust_list = visible.select_related("domain").filter(pk=data["trustList"]).first()
        if trust_list is None:
            raise ValidationError({"trustList": "no such trust list"})
        domain = domain_for(trust_list.domain.slug, user, Perm.ESTATE_MANAGE)
        cas: list[TrustedCA] = []
        if data.get("certificates"):
            cas += catalog.import_cas(domain, data["certificates"].encode())
        if data.get("fingerprints"):
            cas += catalog.cas_by_fingerprint(domain, data["fingerprints"])
        if not cas:
            raise ValidationError({"certificates": "name CAs by certificates or fingerprints"})
        if data["action"] == TrustListChange.Action.ADD:
            change = changes.propose_add(trust_list, cas, user, data["reason"])
        else:
            plan = None
            if data.get("removalPlan"):
                plan = RemovalPlan.objects.filter(domain=domain, pk=data["removalPlan"]).first()
                if plan is None:
                    raise ValidationError({"removalPlan": "no such removal plan"})
            change = changes.propose_remove(trust_list, cas, user, plan, data["reason"])
        return Response(self._answer_data(change), status=status.HTTP_201_CREATED)

    @extend_schema(request=CommentSerializer, responses=ChangeSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        changes.cancel(obj, person(request), comment(request))
        return self.answer(obj)

    def approval_id(self, obj: TrustListChange) -> int:
        if obj.approval_id is None:
            raise Conflict(f"change #{obj.pk} has no approval request", "no_approval")
        return obj.approval_id

    def answer(self, obj: TrustListChange) -> Response:
        return Response(self._answer_data(obj))

    def _answer_data(self, obj: TrustListChange) -> Any:
        return ChangeSerializer(self.get_queryset().get(pk=obj.pk)).data
