"""/api/v1/estate/consumers: the inventory, its CSV import and export, and report tokens.
What consumers report, drift findings and who-trusts are in api_reports.py."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from accounts.roles import Perm
from approvals.api import CommentSerializer
from pki.api.common import (
    DomainScopedViewSet,
    StrictSerializer,
    body,
    comment,
    domain_for,
    file_response,
    person,
    queried_domain,
    validated,
)
from truststores.estate import inventory
from truststores.estate.models import Consumer


class ConsumerSerializer(serializers.ModelSerializer[Consumer]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    ownerTeam = serializers.CharField(source="owner_team", read_only=True)
    clientBase = serializers.CharField(source="client_base", read_only=True)
    trustList = serializers.CharField(source="trust_list.slug", read_only=True, default=None)
    tokenPrefix = serializers.CharField(source="token_prefix", read_only=True)
    tokenIssuedAt = serializers.DateTimeField(source="token_issued_at", read_only=True)
    lastReportAt = serializers.DateTimeField(source="last_report_at", read_only=True)
    openFindings = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Consumer
        fields = [
            "id",
            "domain",
            "name",
            "kind",
            "category",
            "distribution",
            "ownerTeam",
            "clientBase",
            "trustList",
            "description",
            "tokenPrefix",
            "tokenIssuedAt",
            "lastReportAt",
            "openFindings",
            "createdAt",
        ]

    def get_openFindings(self, obj: Consumer) -> int:
        counted = getattr(obj, "open_findings", None)
        if counted is not None:
            return int(counted)
        return obj.findings.filter(resolved_at__isnull=True).count()


# camelCase in the API, the model's names in the services.
_FIELDS = {
    "name": "name",
    "kind": "kind",
    "category": "category",
    "distribution": "distribution",
    "ownerTeam": "owner_team",
    "clientBase": "client_base",
    "trustList": "trust_list",
    "description": "description",
}


def consumer_fields(data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - set(_FIELDS) - {"domain"})
    if unknown:
        raise exceptions.ValidationError(dict.fromkeys(unknown, "unknown field"))
    for key, value in data.items():
        if key != "domain" and value is not None and not isinstance(value, str):
            raise exceptions.ValidationError({key: "a string"})
    return {_FIELDS[k]: v for k, v in data.items() if k in _FIELDS}


class CsvParser(BaseParser):
    """`Content-Type: text/csv`: the file itself as the body (?domain= names the domain);
    read as bytes, at most one byte over the limit, decoded by inventory.decode_csv."""

    media_type = "text/csv"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> dict[str, bytes]:
        # Bytes under "csv": a JSON body never holds bytes, so the view tells them apart.
        return {"csv": stream.read(inventory.MAX_CSV_BYTES + 1) if stream is not None else b""}


class ImportSerializer(StrictSerializer):
    domain = serializers.SlugField(max_length=63)
    csv = serializers.CharField(max_length=8 * 1024 * 1024, trim_whitespace=False)


class ConsumerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet):
    serializer_class = ConsumerSerializer
    lookup_value_regex = "[0-9]{1,18}"
    domain_perms = {
        "partial_update": Perm.ESTATE_MANAGE,
        "update": Perm.ESTATE_MANAGE,
        "destroy": Perm.ESTATE_MANAGE,
        "token": Perm.ESTATE_MANAGE,
        "*": Perm.DOMAIN_VIEW,
    }

    def get_queryset(self) -> QuerySet[Consumer]:
        qs = self.scoped(Consumer.objects.select_related("domain", "trust_list"))
        params = self.request.query_params
        if self.action == "list":
            for name in ("kind", "category", "distribution"):
                if params.get(name):
                    qs = qs.filter(**{name: params[name]})
            if params.get("clientBase"):
                qs = qs.filter(client_base=params["clientBase"])
            if params.get("trustList"):
                qs = qs.filter(trust_list__slug=params["trustList"])
            if params.get("q"):
                qs = qs.filter(name__icontains=params["q"][:200])
        return qs

    @extend_schema(request=dict, responses={201: ConsumerSerializer})
    def create(self, request: Request) -> Response:
        data = body(request)
        user = person(request)
        slug = data.get("domain")
        if not isinstance(slug, str):
            raise exceptions.ValidationError({"domain": "the domain's slug"})
        domain = domain_for(slug, user, Perm.ESTATE_MANAGE)
        created = inventory.create_consumer(domain, user, consumer_fields(data))
        return Response(ConsumerSerializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=dict, responses=ConsumerSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        data = body(request)
        if "domain" in data:
            raise exceptions.ValidationError({"domain": "a consumer stays in its domain"})
        inventory.update_consumer(obj, person(request), consumer_fields(data))
        return Response(ConsumerSerializer(self.get_queryset().get(pk=obj.pk)).data)

    @extend_schema(request=dict, responses=ConsumerSerializer)
    def update(self, request: Request, pk: str | None = None) -> Response:
        return self.partial_update(request, pk)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        inventory.delete_consumer(obj, person(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=CommentSerializer, responses=dict)
    @action(detail=True, methods=["post"])
    def token(self, request: Request, pk: str | None = None) -> Response:
        """A new report token, shown this once; the previous one stops working."""
        obj = self.get_object()
        comment(request)  # the body is a JSON object (a comment, which is not kept), or junk
        token = inventory.issue_token(obj, person(request))
        return Response(
            {"id": obj.pk, "token": token, "tokenPrefix": obj.token_prefix},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=ImportSerializer, responses=dict)
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[*api_settings.DEFAULT_PARSER_CLASSES, CsvParser],
    )
    def import_csv(self, request: Request) -> Response:
        """JSON `{"domain": slug, "csv": text}`, or the file as a text/csv body with
        ?domain=<slug>. All or nothing; every bad row is named."""
        user = person(request)
        raw = request.data.get("csv") if isinstance(request.data, dict) else None
        if isinstance(raw, bytes):
            domain = domain_for(request.query_params.get("domain", ""), user, Perm.ESTATE_MANAGE)
            text = inventory.decode_csv(raw)
        else:
            data = validated(ImportSerializer, request)
            domain = domain_for(data["domain"], user, Perm.ESTATE_MANAGE)
            text = data["csv"]
        result = inventory.import_csv(domain, user, text)
        return Response(
            {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}
        )

    @extend_schema(responses={(200, "text/csv"): bytes})
    @action(detail=False, methods=["get"], url_path="export")
    def export_csv(self, request: Request) -> Any:
        """?domain=<slug>; without it, the caller's only visible domain."""
        domain = queried_domain(request, Perm.DOMAIN_VIEW)
        text = inventory.export_csv(domain)
        return file_response(text.encode(), "text/csv", f"consumers-{domain.slug}.csv")
