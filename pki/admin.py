"""The PKI in the admin site: domains are edited here; CAs, ceremonies, profiles,
certificates and requests are shown read-only, because they change only through the
services (ceremonies for CAs, versioned profiles, the one issuance path). Key references and
sealed secrets are never shown."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from guardian.admin import GuardedModelAdmin

from accounts.roles import Perm, has_perm
from approvals.services import approvals_count
from audit.admin_mixins import AuditedAdminMixin, ReadOnlyAdmin, ReadOnlyMixin
from config.errors import Conflict, NotFound, reason_of
from pki.crypto import certs, pkcs
from pki.crypto.keys import KeyBackendError
from pki.models import (
    Ceremony,
    CertificateAuthority,
    CertificateRequest,
    CrossCertificate,
    Domain,
    IdempotencyKey,
    IssuedCertificate,
    Profile,
    ProfileVersion,
    Reason,
)
from pki.services import hierarchy, revocation
from pki.services.ceremony_rules import QuorumNotMet

# ValueError: the crypto boundary's parse errors (certificate, container).
_REFUSALS = (PermissionDenied, ValidationError, Conflict, NotFound, KeyBackendError, ValueError)


@admin.register(Domain)
class DomainAdmin(AuditedAdminMixin, GuardedModelAdmin):  # type: ignore[misc]
    list_display = ["slug", "name", "enabled_protocols", "is_default", "created_at"]
    list_filter = ["is_default"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ("name",)}


def _pem(der: bytes | memoryview | None) -> str:
    if not der:
        return ""
    try:
        return certs.der_to_pem(bytes(der))
    except ValueError:
        return "(unreadable certificate)"


class _ReadOnlyInline(ReadOnlyMixin, admin.TabularInline[Any, Any]):
    extra = 0
    can_delete = False
    show_change_link = False


_CROSS_FIELDS = (
    "issuer_ca",
    "serial",
    "not_after",
    "ceremony",
    "created_at",
)


class CrossCertificateInline(_ReadOnlyInline):
    model = CrossCertificate
    fk_name = "subject_ca"
    verbose_name = "cross-certificate for this CA"
    fields = _CROSS_FIELDS
    readonly_fields = _CROSS_FIELDS


_CA_FIELDS = (
    "domain",
    "slug",
    "name",
    "kind",
    "status",
    "parent",
    "superseded_by",
    "subject",
    "serial",
    "fingerprint",
    "not_before",
    "not_after",
    "key_backend",
    "key_algorithm",
    "path_length",
    "name_constraints",
    "upstream_ca",
    "ceremony",
    "created_at",
    "certificate_pem",
)


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(ReadOnlyAdmin):
    """Created, rotated, cross-signed and imported only through key ceremonies."""

    list_display = [
        "slug",
        "name",
        "domain",
        "kind",
        "status",
        "key_algorithm",
        "key_backend",
        "not_after",
        "parent",
    ]
    list_filter = ["domain", "kind", "status", "key_backend", "key_algorithm"]
    search_fields = ["slug", "name", "subject", "serial", "fingerprint"]
    list_select_related = ["domain", "parent"]
    # A whitelist: key_ref (the sealed key or HSM handle) is never shown.
    fields = _CA_FIELDS
    readonly_fields = _CA_FIELDS
    inlines = [CrossCertificateInline]

    actions = ["publish_crls"]

    @admin.display(description="certificate (PEM)")
    def certificate_pem(self, obj: CertificateAuthority) -> str:
        return _pem(obj.certificate)

    @admin.action(description="Publish a complete and a delta CRL now")
    def publish_crls(self, request: HttpRequest, queryset: QuerySet[CertificateAuthority]) -> None:
        from pki.services import crls

        user = request.user
        assert isinstance(user, User)  # the admin site lets only staff users in
        for ca in queryset.select_related("domain"):
            if not crls.publishes(ca):
                self.message_user(request, f"{ca.slug}: publishes no CRLs here", messages.ERROR)
                continue
            crls.request_crls(ca, user, via="admin")
            self.message_user(request, f"{ca.slug}: CRLs queued", messages.SUCCESS)

    @admin.display(description="upstream CA")
    def upstream_ca(self, obj: CertificateAuthority) -> str:
        # Only the CA's address: the upstream settings may hold access credentials.
        return str(obj.upstream.get("arn", "")) if obj.upstream else ""


_CEREMONY_FIELDS = (
    "domain",
    "operation",
    "purpose",
    "params",
    "threshold",
    "approvals",
    "approval",
    "state",
    "started_by",
    "result",
    "created_at",
    "finished_at",
)


@admin.register(Ceremony)
class CeremonyAdmin(ReadOnlyAdmin):
    """Started and approved through the approval engine; the action below runs an approved
    ceremony now, with the same quorum check as every other path."""

    list_display = [
        "id",
        "domain",
        "operation",
        "purpose",
        "state",
        "approvals",
        "started_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["state", "operation", "domain"]
    search_fields = ["purpose", "started_by__username"]
    list_select_related = ["domain", "started_by", "approval"]
    # A whitelist: sealed_secret (an imported key, sealed) is never shown.
    fields = _CEREMONY_FIELDS
    readonly_fields = _CEREMONY_FIELDS
    actions = ["run_operation"]

    @admin.display(description="approvals")
    def approvals(self, obj: Ceremony) -> str:
        return f"{approvals_count(obj.approval)} of {obj.threshold}"

    @admin.action(description="Run the approved operation")
    def run_operation(self, request: HttpRequest, queryset: QuerySet[Ceremony]) -> None:
        for ceremony in queryset.select_related("domain"):
            if not has_perm(request.user, Perm.CEREMONIES_PROPOSE, ceremony.domain):
                self.message_user(
                    request,
                    f"ceremony #{ceremony.pk}: you do not hold "
                    f"{Perm.CEREMONIES_PROPOSE.value} in domain {ceremony.domain.slug}",
                    messages.ERROR,
                )
                continue
            try:
                result = hierarchy.execute(ceremony.pk, actor=request.user)
            except QuorumNotMet as exc:
                self.message_user(request, f"refused: {exc}", messages.ERROR)
            except _REFUSALS as exc:
                # The reason is shown; execute() rolled back, the ceremony stays as it was.
                self.message_user(
                    request, f"ceremony #{ceremony.pk} refused: {reason_of(exc)}", messages.ERROR
                )
            else:
                facts = ", ".join(f"{k} {v}" for k, v in result.items())
                self.message_user(
                    request, f"ceremony #{ceremony.pk} done: {facts}", messages.SUCCESS
                )


_VERSION_FIELDS = (
    "version",
    "ca",
    "spec",
    "comment",
    "created_by",
    "created_at",
)


class ProfileVersionInline(_ReadOnlyInline):
    model = ProfileVersion
    fields = _VERSION_FIELDS
    readonly_fields = _VERSION_FIELDS
    ordering = ["-version"]


_PROFILE_FIELDS = (
    "domain",
    "name",
    "description",
    "current_version",
    "created_at",
)


@admin.register(Profile)
class ProfileAdmin(ReadOnlyAdmin):
    """Profiles change only by adding a version (pki.services.profiles.save_profile)."""

    list_display = ["name", "domain", "current_version", "signing_ca", "description", "created_at"]
    list_filter = ["domain"]
    search_fields = ["name", "description"]
    list_select_related = ["domain"]
    fields = _PROFILE_FIELDS
    readonly_fields = _PROFILE_FIELDS
    inlines = [ProfileVersionInline]

    @admin.display(description="signing CA")
    def signing_ca(self, obj: Profile) -> str:
        version = obj.versions.filter(version=obj.current_version).select_related("ca").first()
        return version.ca.slug if version else ""


_CERTIFICATE_FIELDS = (
    "serial",
    "subject",
    "sans",
    "domain",
    "ca",
    "profile_version",
    "status",
    "not_before",
    "not_after",
    "fingerprint",
    "key_algorithm",
    "protocol",
    "requester",
    "requested_by",
    "created_at",
    "certificate_pem",
)


def revocation_actions() -> list[Any]:
    """One admin action per reason an admin picks (RFC 5280 §5.3.1), each calling
    pki.services.revocation.revoke(), which checks certs.revoke in each certificate's domain."""

    def make(reason: str) -> Any:
        @admin.action(description=f"Revoke selected certificates ({reason})")
        def act(
            modeladmin: admin.ModelAdmin[IssuedCertificate],
            request: HttpRequest,
            queryset: QuerySet[IssuedCertificate],
        ) -> None:
            for cert in queryset.select_related("domain"):
                try:
                    done = revocation.revoke(cert, reason, actor=request.user)
                except _REFUSALS as exc:
                    modeladmin.message_user(
                        request, f"{cert.serial}: {reason_of(exc)}", messages.ERROR
                    )
                    continue
                said = "revoked" if done.changed else "was already revoked"
                modeladmin.message_user(request, f"{cert.serial}: {said}", messages.SUCCESS)

        act.__name__ = f"revoke_{reason}"
        return act

    return [make(reason) for reason in ADMIN_REASONS]


ADMIN_REASONS = [
    Reason.KEY_COMPROMISE.value,
    Reason.SUPERSEDED.value,
    Reason.CESSATION_OF_OPERATION.value,
    Reason.AFFILIATION_CHANGED.value,
    Reason.PRIVILEGE_WITHDRAWN.value,
    Reason.CERTIFICATE_HOLD.value,
    Reason.UNSPECIFIED.value,
]


@admin.register(IssuedCertificate)
class IssuedCertificateAdmin(ReadOnlyAdmin):
    """Issued only through pki.services.issuance.issue()."""

    list_display = [
        "serial",
        "subject",
        "domain",
        "ca",
        "profile_version",
        "status",
        "not_after",
        "protocol",
        "requester",
        "created_at",
    ]
    list_filter = ["status", "domain", "protocol", "ca"]
    search_fields = ["serial", "subject", "fingerprint", "requester"]
    list_select_related = ["domain", "ca", "profile_version__profile"]
    date_hierarchy = "created_at"
    fields = _CERTIFICATE_FIELDS
    readonly_fields = _CERTIFICATE_FIELDS
    actions = [*revocation_actions(), "release_hold"]

    @admin.display(description="certificate (PEM)")
    def certificate_pem(self, obj: IssuedCertificate) -> str:
        return _pem(obj.der)

    @admin.action(description="Release the hold (certificateHold)")
    def release_hold(self, request: HttpRequest, queryset: QuerySet[IssuedCertificate]) -> None:
        for cert in queryset.select_related("domain"):
            try:
                revocation.release_hold(cert, actor=request.user)
            except _REFUSALS as exc:
                self.message_user(request, f"{cert.serial}: {reason_of(exc)}", messages.ERROR)
            else:
                self.message_user(request, f"{cert.serial}: hold released", messages.SUCCESS)


_REQUEST_FIELDS = (
    "domain",
    "profile",
    "subject",
    "comment",
    "requested_by",
    "state",
    "approval",
    "certificate",
    "failure",
    "created_at",
    "csr_pem",
)


@admin.register(CertificateRequest)
class CertificateRequestAdmin(ReadOnlyAdmin):
    """Requested by RA officers and decided in the approval engine."""

    list_display = ["id", "domain", "profile", "subject", "requested_by", "state", "created_at"]
    list_filter = ["state", "domain"]
    search_fields = ["subject", "requested_by__username", "comment"]
    list_select_related = ["domain", "profile", "requested_by"]
    fields = _REQUEST_FIELDS
    readonly_fields = _REQUEST_FIELDS

    @admin.display(description="CSR (PEM)")
    def csr_pem(self, obj: CertificateRequest) -> str:
        return pkcs.pem("CERTIFICATE REQUEST", bytes(obj.csr)) if obj.csr else ""


_CROSS_CERTIFICATE_FIELDS = (
    "subject_ca",
    "issuer_ca",
    "serial",
    "not_after",
    "ceremony",
    "created_at",
    "certificate_pem",
)


@admin.register(CrossCertificate)
class CrossCertificateAdmin(ReadOnlyAdmin):
    """Made by cross-sign and root-rotation ceremonies."""

    list_display = ["serial", "subject_ca", "issuer_ca", "not_after", "ceremony", "created_at"]
    list_filter = ["issuer_ca__domain"]
    search_fields = ["serial", "subject_ca__slug", "issuer_ca__slug"]
    list_select_related = ["subject_ca", "issuer_ca", "ceremony"]
    fields = _CROSS_CERTIFICATE_FIELDS
    readonly_fields = _CROSS_CERTIFICATE_FIELDS

    @admin.display(description="certificate (PEM)")
    def certificate_pem(self, obj: CrossCertificate) -> str:
        return _pem(obj.certificate)


@admin.register(ProfileVersion)
class ProfileVersionAdmin(ReadOnlyAdmin):
    """Every version a profile has had; certificates point at the one they were issued under."""

    list_display = ["profile", "version", "ca", "comment", "created_by", "created_at"]
    list_filter = ["profile__domain"]
    search_fields = ["profile__name", "comment"]
    list_select_related = ["profile__domain", "ca", "created_by"]
    fields = ("profile", *_VERSION_FIELDS)
    readonly_fields = ("profile", *_VERSION_FIELDS)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["key", "domain", "certificate", "created_at"]
    list_filter = ["domain"]
    search_fields = ["key"]
    list_select_related = ["domain", "certificate"]


from pki import admin_revocation  # noqa: E402, F401  (registers the revocation records)
