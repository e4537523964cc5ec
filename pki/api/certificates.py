"""/api/v1/certificates: issue through pki.services.issuance.issue(), list, read, download."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Perm
from pki.api.common import (
    DER_CERT_TYPE,
    PEM_TYPE,
    DomainScopedViewSet,
    StrictSerializer,
    choice_text,
    domain_for,
    file_response,
    person,
    validated,
)
from pki.crypto import certs
from pki.models import Domain, IssuedCertificate, Protocol, Reason, Revocation
from pki.selectors import filter_certificates
from pki.services import cas, revocation
from pki.services.issuance import (
    MAX_BATCH,
    IssueRequest,
    issue,
    issue_batch,
)

RETRY_AFTER = "30"  # seconds; no CA or an upstream that failed is rarely back sooner
MAX_IDEMPOTENCY_KEY = 200


class IssueSerializer(serializers.Serializer[Any]):
    """The body of POST /api/v1/certificates (DESIGN.md)."""

    domain = serializers.SlugField(max_length=63)
    profile = serializers.SlugField(max_length=100)
    csr = serializers.CharField(max_length=64 * 1024, trim_whitespace=False)


class BatchSerializer(serializers.Serializer[Any]):
    """The body of POST /api/v1/certificates/batch: several CSRs under one profile."""

    domain = serializers.SlugField(max_length=63)
    profile = serializers.SlugField(max_length=100)
    csrs = serializers.ListField(
        child=serializers.CharField(max_length=64 * 1024, trim_whitespace=False),
        min_length=1,
        max_length=MAX_BATCH,
    )


class RevokeSerializer(StrictSerializer):
    """The body of POST /api/v1/certificates/<serial>/revoke."""

    reason = serializers.ChoiceField(Reason.values, default=Reason.UNSPECIFIED.value)
    invalidity_date = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ReleaseSerializer(StrictSerializer):
    """The body of POST /api/v1/certificates/<serial>/release: nothing, or a comment."""

    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class RevocationSerializer(serializers.ModelSerializer[Revocation]):
    class Meta:
        model = Revocation
        fields = ["reason", "revoked_at", "invalidity_date", "requester"]


class CertificateSerializer(serializers.ModelSerializer[IssuedCertificate]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    ca = serializers.CharField(source="ca.slug", read_only=True)
    profile = serializers.CharField(source="profile_version.profile.name", read_only=True)
    profile_version = serializers.IntegerField(source="profile_version.version", read_only=True)
    status = choice_text(IssuedCertificate.Status.values)

    class Meta:
        model = IssuedCertificate
        fields = [
            "serial",
            "domain",
            "ca",
            "profile",
            "profile_version",
            "subject",
            "sans",
            "not_before",
            "not_after",
            "status",
            "fingerprint",
            "key_algorithm",
            "protocol",
            "requester",
            "created_at",
        ]


class CertificateDetailSerializer(CertificateSerializer):
    """With the certificate and its chain (PEM, issuing CA first, no root). The chain is the
    one issue() returned when the serializer's context holds it ("chain", or "chains" by
    certificate id for many), else the CA's."""

    certificate = serializers.SerializerMethodField()
    chain = serializers.SerializerMethodField()
    revocation = serializers.SerializerMethodField()

    class Meta(CertificateSerializer.Meta):
        fields = [*CertificateSerializer.Meta.fields, "revocation", "certificate", "chain"]

    @extend_schema_field(RevocationSerializer(allow_null=True))
    def get_revocation(self, obj: IssuedCertificate) -> dict[str, Any] | None:
        if obj.status != IssuedCertificate.Status.REVOKED:
            return None
        found = Revocation.objects.filter(certificate=obj, released_at=None).first()
        return RevocationSerializer(found).data if found else None

    def get_certificate(self, obj: IssuedCertificate) -> str:
        return certs.der_to_pem(bytes(obj.der))

    def get_chain(self, obj: IssuedCertificate) -> list[str]:
        chain = self.context.get("chains", {}).get(obj.pk) or self.context.get("chain")
        if chain is None:
            chain = cas.issuing_chain(obj.ca)
        return [certs.der_to_pem(der) for der in chain]


class ProblemSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    code = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField(), required=False)


class CertificateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet):
    serializer_class = CertificateSerializer
    domain_perms = {
        "revoke": Perm.CERTS_REVOKE,
        "release": Perm.CERTS_REVOKE,
        "*": Perm.DOMAIN_VIEW,
    }
    lookup_field = "serial"
    lookup_value_regex = "[0-9A-Fa-f]{1,64}"

    def get_queryset(self) -> QuerySet[IssuedCertificate]:
        qs = self.scoped(
            IssuedCertificate.objects.select_related("domain", "ca", "profile_version__profile")
        )
        if self.action != "list":
            return qs
        # ?domain= is applied by scoped(); the rest here.
        params = self.request.query_params
        return filter_certificates(
            qs,
            {k: params.get(k, "") for k in ("ca", "profile", "status", "q", "expires_within")},
        )

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return CertificateSerializer if self.action == "list" else CertificateDetailSerializer

    def get_object(self) -> IssuedCertificate:
        # Serials are stored upper-case; a URL may carry them in either case.
        self.kwargs[self.lookup_field] = str(self.kwargs[self.lookup_field]).upper()
        obj: IssuedCertificate = super().get_object()
        return obj

    @extend_schema(
        parameters=[
            OpenApiParameter(name, str, description=f"exact {name}")
            for name in ("domain", "ca", "profile", "status")
        ]
        + [OpenApiParameter("q", str, description="subject or SAN contains")]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=IssueSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="retries with the same key return the same certificate (200)",
            )
        ],
        responses={
            201: CertificateDetailSerializer,
            200: CertificateDetailSerializer,
            403: ProblemSerializer,
            409: ProblemSerializer,
            503: ProblemSerializer,
        },
    )
    def create(self, request: Request) -> Response:
        data = validated(IssueSerializer, request)
        key = _idempotency_key(request)
        user = person(request)
        domain = _issuing_domain(data["domain"], request)
        issue_request = IssueRequest(
            domain=domain,
            profile=data["profile"],
            csr=data["csr"],
            protocol=Protocol.API,
            user=user,
            idempotency_key=key,
        )
        issued = issue(issue_request)
        cert = issued.certificate
        return Response(
            CertificateDetailSerializer(cert, context={"chain": issued.chain}).data,
            status=status.HTTP_201_CREATED if issued.created else status.HTTP_200_OK,
            headers={"Location": f"{request.path.rstrip('/')}/{cert.serial}"},
        )

    @extend_schema(
        request=BatchSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="retrying the same batch with the same key returns the same "
                "certificates (200)",
            )
        ],
        responses={
            201: CertificateDetailSerializer(many=True),
            200: CertificateDetailSerializer(many=True),
            403: ProblemSerializer,
            409: ProblemSerializer,
            503: ProblemSerializer,
        },
    )
    @action(detail=False, methods=["post"])
    def batch(self, request: Request) -> Response:
        """Several certificates under one profile in one call, all or none: the same rules
        per certificate as POST /certificates, for integrators enrolling fleets."""
        data = validated(BatchSerializer, request)
        key = _idempotency_key(request)
        user = person(request)
        domain = _issuing_domain(data["domain"], request)
        requests = [
            IssueRequest(
                domain=domain,
                profile=data["profile"],
                csr=csr,
                protocol=Protocol.API,
                user=user,
                idempotency_key=f"{key}#{i}" if key else None,
            )
            for i, csr in enumerate(data["csrs"])
        ]
        issued = issue_batch(requests)
        # One list serializer: its fields are built once, not once a certificate.
        body = CertificateDetailSerializer(
            [item.certificate for item in issued],
            many=True,
            context={"chains": {item.certificate.pk: item.chain for item in issued}},
        ).data
        created = any(item.created for item in issued)
        return Response(
            {"certificates": body},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        request=RevokeSerializer,
        responses={
            200: CertificateDetailSerializer,
            400: ProblemSerializer,
            403: ProblemSerializer,
        },
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, serial: str | None = None) -> Response:
        """Revoke with an RFC 5280 reason (and invalidity date). Revoking again is harmless
        (200, unchanged); a certificateHold can be made permanent, or released."""
        cert = self.get_object()
        data = validated(RevokeSerializer, request)
        revocation.revoke(
            cert,
            data["reason"],
            actor=person(request),
            invalidity_date=data["invalidity_date"],
        )
        cert.refresh_from_db()
        return Response(CertificateDetailSerializer(cert).data)

    @extend_schema(
        request=None,
        responses={
            200: CertificateDetailSerializer,
            403: ProblemSerializer,
            409: ProblemSerializer,
        },
    )
    @action(detail=True, methods=["post"])
    def release(self, request: Request, serial: str | None = None) -> Response:
        """Release a certificateHold: the certificate is valid again (409 when not on hold)."""
        cert = self.get_object()
        data = validated(ReleaseSerializer, request) if request.body else {}
        revocation.release_hold(cert, actor=person(request), comment=data.get("comment", ""))
        cert.refresh_from_db()
        return Response(CertificateDetailSerializer(cert).data)

    @extend_schema(
        responses={(200, PEM_TYPE): OpenApiResponse(OpenApiTypes.STR, "leaf, then its chain")}
    )
    @action(detail=True, methods=["get"])
    def pem(self, request: Request, serial: str | None = None) -> HttpResponse:
        cert = self.get_object()
        ders = [bytes(cert.der), *cas.issuing_chain(cert.ca)]
        text = "".join(certs.der_to_pem(der) for der in ders)
        return file_response(text.encode(), PEM_TYPE, f"{cert.serial}.pem")

    @extend_schema(responses={(200, DER_CERT_TYPE): OpenApiResponse(OpenApiTypes.BINARY)})
    @action(detail=True, methods=["get"])
    def der(self, request: Request, serial: str | None = None) -> HttpResponse:
        cert = self.get_object()
        return file_response(bytes(cert.der), DER_CERT_TYPE, f"{cert.serial}.cer")


def _issuing_domain(slug: str, request: Request) -> Domain:
    domain = domain_for(slug, person(request), Perm.CERTS_ISSUE)
    if not domain.protocol_enabled(Protocol.API):
        raise exceptions.PermissionDenied(f"the REST API is disabled in domain {domain.slug}")
    return domain


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise exceptions.ValidationError(
            {"Idempotency-Key": f"1 to {MAX_IDEMPOTENCY_KEY} printable characters"}
        )
    return key
