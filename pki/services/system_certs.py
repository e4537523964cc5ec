"""System certificates: what Anchorage issues to itself from a domain's CA, with fixed
contents no profile can change (an RA officer tightening a profile must not break a protocol
Anchorage speaks). Like the OCSP responder (pki.services.ocsp._new_responder): a fresh
software key, short-lived, signed by the CA's key through its backend, audited. The caller
keeps the certificate in its own row (CmpProtectionKey, OcspResponder)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from audit.services import record
from pki.crypto import certs
from pki.crypto.backends import get_signer
from pki.models import CertificateAuthority
from pki.services import cas

BACKDATE = timedelta(minutes=1)  # relying parties whose clocks run a little slow


@dataclass(frozen=True)
class SystemCertificate:
    ca: CertificateAuthority  # the active CA that signed it
    der: bytes
    serial: str  # upper-case hex
    not_before: datetime
    not_after: datetime


def issue_system_certificate(
    ca: CertificateAuthority,
    *,
    common_name: str,
    public_key_der: bytes,
    key_usage: list[str],
    ext_key_usage: list[str],
    days: int,
    purpose: str,
) -> SystemCertificate:
    """Sign a certificate for `public_key_der` with the active CA of `ca`; valid `days`
    (never past the CA's own expiry). Raises CaUnavailable when no CA can sign. Audited as
    `ca.system_certificate.issued`; call it inside the transaction that stores the result."""
    signer_ca = cas.active(ca)
    now = certs.now()
    template = certs.CertTemplate(
        subject=[("CN", common_name[:64])],
        public_key_der=public_key_der,
        serial=certs.random_serial(),
        not_before=now - BACKDATE,
        not_after=min(now + timedelta(days=days), signer_ca.not_after),
        key_usage=key_usage,
        ext_key_usage=ext_key_usage,
    )
    der = certs.build(
        template,
        get_signer(signer_ca.key_backend, signer_ca.key_ref),
        bytes(signer_ca.certificate),
    )
    made = SystemCertificate(
        signer_ca, der, certs.serial_hex(template.serial), template.not_before, template.not_after
    )
    record(
        "ca.system_certificate.issued",
        domain=signer_ca.domain,
        obj=signer_ca,
        details={
            "serial": made.serial,
            "subject": f"CN={common_name[:64]}",
            "purpose": purpose,
            "key_usage": key_usage,
            "ext_key_usage": ext_key_usage,
            "not_after": made.not_after.isoformat(),
        },
    )
    return made
