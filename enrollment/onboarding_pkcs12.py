"""Manual onboarding (seed 004): the server makes the device's key, issues its domain
credential under the domain's credential profile through issue(), and hands key, certificate
and chain over once as a password-protected PKCS#12. The key is never stored.

Who: the direct download needs certs.issue in the device's domain (operators, admins):
DESIGN.md lets an RA officer request but never issue, so an RA officer makes a one-time link
instead (enrollment.onboarding_links), which the device's owner redeems."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction

from accounts.roles import Perm, has_perm
from audit.services import record
from config.errors import Conflict, Forbidden, reason_of
from enrollment.models import Device, DeviceCertificate
from enrollment.onboarding import config, record_domain_credential
from pki.models import IssuedCertificate
from pki.services.server_keys import ServerKeyRequest, check_password, issue_with_server_key

P12_TYPE = "application/x-pkcs12"


@dataclass(frozen=True)
class Pkcs12Credential:
    certificate: IssuedCertificate
    pkcs12: bytes

    @property
    def filename(self) -> str:
        return f"{self.certificate.serial}.p12"


def require_onboardable(device: Device) -> None:
    if device.onboarding_method == Device.Onboarding.NONE:
        raise Conflict(
            f"device {device.name} is set to no onboarding: it gets application certificates "
            "directly and holds no domain credential",
            "no_onboarding",
        )


def issue_pkcs12(
    device: Device, password: str, *, method: str, user: User | None = None, requester: str = ""
) -> Pkcs12Credential:
    """Issue the device's domain credential with a server-made key and record it; runs inside
    the caller's transaction, so the certificate, the device's state and the audit events
    commit together or not at all."""
    require_onboardable(device)  # again: an admin may have changed the method meanwhile
    domain = device.domain
    made = issue_with_server_key(
        ServerKeyRequest(
            domain=domain,
            profile=config(domain).credential_profile,
            common_name=device.name,
            user=user,
            requester=requester,
            extra={"device": str(device.pk), "onboarding": method},
        )
    )
    cert = made.certificate
    DeviceCertificate.objects.create(
        certificate=cert, domain=domain, device=device, operation=method[:20]
    )
    record_domain_credential(device, cert, method)
    # With the root: the device needs its trust anchor to authenticate us later.
    return Pkcs12Credential(cert, made.pkcs12(device.name, password, with_root=True))


def download(
    device: Device, user: User, password: str, again: str | None = None
) -> Pkcs12Credential:
    """The direct download from the device page or the API (certs.issue only)."""
    if not has_perm(user, Perm.CERTS_ISSUE, device.domain):
        raise Forbidden(
            f"you do not hold {Perm.CERTS_ISSUE.value} in domain {device.domain.slug}: an RA "
            "officer may request but never issue; make a one-time onboarding link instead"
        )
    require_onboardable(device)
    check_password(password, again)
    try:
        with transaction.atomic():
            return issue_pkcs12(device, password, method=Device.Onboarding.MANUAL_PKCS12, user=user)
    except Exception as exc:
        # The refusal outlives the rolled-back transaction (issue()'s own denial event
        # was part of it).
        with transaction.atomic():
            record(
                "enrollment.device.pkcs12_refused",
                actor=user,
                domain=device.domain,
                obj=device,
                details={"reason": reason_of(exc)},
            )
        raise
