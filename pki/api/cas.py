"""/api/v1/cas: certificate authorities and their chains. Key references never leave."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request

from pki.api.common import PEM_TYPE, SLUG, DomainScopedViewSet, file_response
from pki.crypto import certs
from pki.models import CertificateAuthority, CrossCertificate
from pki.services import cas


class CrossCertificateSerializer(serializers.ModelSerializer[CrossCertificate]):
    issuer = serializers.CharField(source="issuer_ca.slug", read_only=True)
    certificate = serializers.SerializerMethodField()

    class Meta:
        model = CrossCertificate
        fields = ["issuer", "serial", "not_after", "ceremony", "certificate", "created_at"]

    def get_certificate(self, obj: CrossCertificate) -> str:
        return certs.der_to_pem(bytes(obj.certificate))


class UrlsSerializer(serializers.Serializer[Any]):
    crl = serializers.URLField()
    ocsp = serializers.URLField()
    ca_issuers = serializers.URLField()


class CertificateAuthoritySerializer(serializers.ModelSerializer[CertificateAuthority]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    # Annotated: `parent` is also the name of DRF's Field.parent in the stubs.
    parent: Any = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    superseded_by: Any = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    urls = serializers.SerializerMethodField()
    certificate = serializers.SerializerMethodField()
    cross_certificates = CrossCertificateSerializer(many=True, read_only=True)

    class Meta:
        model = CertificateAuthority
        # Never key_ref (sealed key material or a key's id), nor the upstream settings.
        fields = [
            "slug",
            "name",
            "domain",
            "kind",
            "status",
            "parent",
            "superseded_by",
            "key_backend",
            "key_algorithm",
            "serial",
            "subject",
            "not_before",
            "not_after",
            "fingerprint",
            "path_length",
            "name_constraints",
            "ceremony",
            "urls",
            "certificate",
            "cross_certificates",
            "created_at",
        ]

    @extend_schema_field(UrlsSerializer)
    def get_urls(self, obj: CertificateAuthority) -> dict[str, str]:
        return cas.urls(obj.slug)

    def get_certificate(self, obj: CertificateAuthority) -> str:
        return certs.der_to_pem(bytes(obj.certificate))


class CertificateAuthorityViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet
):
    serializer_class = CertificateAuthoritySerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG

    def get_queryset(self) -> QuerySet[CertificateAuthority]:
        qs = self.scoped(
            CertificateAuthority.objects.select_related(
                "domain", "parent", "superseded_by"
            ).prefetch_related("cross_certificates__issuer_ca")
        )
        if self.action == "list":
            for param in ("status", "kind"):
                value = self.request.query_params.get(param)
                if value:
                    qs = qs.filter(**{param: value})
        return qs

    @extend_schema(
        responses={
            (200, PEM_TYPE): OpenApiResponse(OpenApiTypes.STR, "the CA first, its root last")
        }
    )
    @action(detail=True, methods=["get"])
    def chain(self, request: Request, slug: str | None = None) -> HttpResponse:
        ca = self.get_object()
        text = "".join(certs.der_to_pem(der) for der in cas.chain(ca))
        return file_response(text.encode(), PEM_TYPE, f"{ca.slug}-chain.pem")
