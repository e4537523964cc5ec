"""REST API for domains and certificates."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import DomainPermission
from accounts.roles import Perm, domains_with, has_perm
from pki.models import Domain, Protocol


class DomainSerializer(serializers.ModelSerializer[Domain]):
    class Meta:
        model = Domain
        fields = ["slug", "name", "description", "enabled_protocols", "is_default", "created_at"]


class DomainViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DomainSerializer
    permission_classes = [DomainPermission]
    domain_perms = {"*": Perm.DOMAIN_VIEW}
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[Domain]:
        if self.action == "list":
            return domains_with(self.request.user, Perm.DOMAIN_VIEW)
        return Domain.objects.all()


class IssueSerializer(serializers.Serializer[Any]):
    """The body of POST /api/v1/certificates (DESIGN.md)."""

    domain = serializers.SlugField(max_length=63)
    profile = serializers.SlugField(max_length=100)
    csr = serializers.CharField(max_length=64 * 1024, trim_whitespace=False)


class CertificatesView(APIView):
    """POST /api/v1/certificates: the front door of API issuance.

    Authentication, body validation and the per-domain permission are in force now; the
    issuance behind them (CAs, profiles, pki.services.issuance.issue) comes with the PKI
    core, and until then a valid request is told so with a 503, never half-served.
    """

    @extend_schema(request=IssueSerializer, responses={503: None})
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise serializers.ValidationError("the body must be a JSON object")
        body = IssueSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        domain = Domain.objects.filter(slug=body.validated_data["domain"]).first()
        if domain is None:
            raise serializers.ValidationError({"domain": "no such domain"})
        if not has_perm(request.user, Perm.CERTS_ISSUE, domain):
            raise exceptions.PermissionDenied(
                f"you do not hold {Perm.CERTS_ISSUE.value} in domain {domain.slug}"
            )
        if not domain.protocol_enabled(Protocol.API):
            raise exceptions.PermissionDenied(f"the REST API is disabled in domain {domain.slug}")
        return Response(
            {
                "detail": f"domain {domain.slug} has no issuing CA: certificate issuance is "
                "not available in this release yet",
                "code": "issuance_unavailable",
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
