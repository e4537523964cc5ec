"""ACME Renewal Information (RFC 9773): certificate identifiers, suggested windows, early
renewal flags, and `replaces` in newOrder."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q

from audit.services import record
from enrollment.acme.models import AcmeOrder, RenewalFlag, Status
from enrollment.acme.problems import AcmeProblem, malformed
from pki.crypto import certs, jose
from pki.models import CertificateAuthority, Domain, IssuedCertificate

if TYPE_CHECKING:
    from enrollment.acme.models import AcmeAccount

RETRY_AFTER = 6 * 3600  # §4.3: how often a client should ask again
EARLY_WINDOW = timedelta(hours=1)


def cert_id(cert: IssuedCertificate) -> str:
    """§4.1: base64url(AKI keyIdentifier) "." base64url(DER serial number content octets)."""
    aki = bytes.fromhex(certs.info(bytes(cert.der)).aki)
    serial = int(cert.serial, 16)
    serial_bytes = serial.to_bytes(serial.bit_length() // 8 + 1, "big")  # DER: positive
    return f"{jose.b64u_encode(aki)}.{jose.b64u_encode(serial_bytes)}"


def find(domain: Domain, ident: object) -> IssuedCertificate:
    if not isinstance(ident, str) or ident.count(".") != 1 or len(ident) > 200:
        raise malformed("a certificate identifier is base64url(AKI).base64url(serial)")
    aki_b64, serial_b64 = ident.split(".")
    try:
        aki, serial = jose.b64u_decode(aki_b64), jose.b64u_decode(serial_b64)
    except jose.JoseError as exc:
        raise malformed(f"bad certificate identifier: {exc}") from None
    if not aki or not serial or serial[0] & 0x80:
        raise malformed("bad certificate identifier")
    cert = (
        IssuedCertificate.objects.filter(
            domain=domain, serial=certs.serial_hex(int.from_bytes(serial, "big"))
        )
        .select_related("ca")
        .first()
    )
    if cert is None or certs.info(bytes(cert.der)).aki != aki.hex():
        raise AcmeProblem("malformed", "no such certificate", 404)
    return cert


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    explanation_url: str = ""

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "suggestedWindow": {"start": _rfc3339(self.start), "end": _rfc3339(self.end)}
        }
        if self.explanation_url:
            doc["explanationURL"] = self.explanation_url
        return doc


def window(cert: IssuedCertificate, default_explanation: str = "") -> Window:
    """The last third of the certificate's life, narrowed to half of it at an offset derived
    from the serial, so clients of one batch spread their renewals; an operator's flag moves
    the window to end at the flag's time (§4.2: a window in the past means renew now)."""
    flag = (
        RenewalFlag.objects.filter(Q(certificate=cert) | Q(ca_id=cert.ca_id))
        .order_by("created_at")
        .first()
    )
    if flag is not None and flag.created_at < cert.not_after:
        # A window that ends when the flag was raised: every client that asks afterwards sees
        # it in the past and renews at once (§4.2), whatever point of it it picks.
        end = max(flag.created_at, cert.not_before)
        return Window(end - EARLY_WINDOW, end, flag.explanation_url or default_explanation)
    return scheduled(cert)


def scheduled(cert: IssuedCertificate) -> Window:
    """The window without flags: half of the last third, placed by the serial's hash."""
    life = cert.not_after - cert.not_before
    third = life / 3
    span = third / 2
    spread = int.from_bytes(hashlib.sha256(cert.serial.encode()).digest()[:8], "big") / 2**64
    start = cert.not_before + 2 * third + (third - span) * spread
    return Window(start, start + span)


@transaction.atomic
def flag(
    domain: Domain,
    *,
    certificate: IssuedCertificate | None = None,
    ca: CertificateAuthority | None = None,
    explanation_url: str = "",
    actor: User | None = None,
) -> RenewalFlag:
    if (certificate is None) == (ca is None):
        raise ValueError("flag one certificate or one CA")
    target = certificate or ca
    assert target is not None
    if target.domain_id != domain.pk:
        raise ValueError("the certificate or CA belongs to another domain")
    row = RenewalFlag.objects.create(
        domain=domain,
        certificate=certificate,
        ca=ca,
        explanation_url=explanation_url,
        created_by=actor,
    )
    record(
        "acme.renewal.flagged",
        actor=actor,
        domain=domain,
        obj=row,
        details={
            "certificate": certificate.serial if certificate else None,
            "ca": ca.slug if ca else None,
            "explanation_url": explanation_url,
        },
    )
    return row


def replaced_certificate(account: AcmeAccount, ident: object) -> IssuedCertificate | None:
    """§5: `replaces` names a certificate issued to this account and not replaced yet."""
    if ident is None:
        return None
    cert = find(account.domain, ident)
    if cert.requester != account.requester:
        raise AcmeProblem("unauthorized", "the replaced certificate was not issued to you", 403)
    taken = AcmeOrder.objects.filter(replaces=cert).exclude(status=Status.INVALID).exists()
    if taken:
        raise AcmeProblem("alreadyReplaced", "an order already replaces this certificate", 409)
    return cert


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
