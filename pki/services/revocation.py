"""Revoking certificates and releasing holds: the only writer of Revocation rows.

A revocation is one transaction: the certificate's status, its Revocation row with the DER
entry CRLs are built from, fresh pre-signed OCSP responses (so the responder answers
`revoked` as soon as this commits) and the audit event. The next CRL is scheduled, debounced,
when it commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.roles import Perm, has_perm
from audit.services import record
from config.errors import Conflict, Forbidden
from pki.crypto import crl
from pki.models import IssuedCertificate, Reason, Revocation
from pki.services import crls, ocsp

HOLD = Reason.CERTIFICATE_HOLD.value


@dataclass(frozen=True)
class Revoked:
    revocation: Revocation
    changed: bool  # False when the certificate already stood revoked as asked


def revoke(
    cert: IssuedCertificate,
    reason: str = Reason.UNSPECIFIED.value,
    *,
    actor: User | AnonymousUser | None = None,
    requester: str = "",
    invalidity_date: datetime | None = None,
) -> Revoked:
    """Revoke `cert` (RFC 5280 §5.3.1 reason; §5.3.2 invalidity date, never in the future).

    Revoking twice is harmless: a certificate already revoked answers `changed=False` and
    nothing is written. The one change allowed on a revoked certificate is from
    certificateHold to a permanent reason (RFC 5280 §3.3: a hold ends in release or
    revocation); the revocation date stays the hold's.
    """
    if reason not in Reason.values:
        raise ValidationError(f"reason must be one of {', '.join(Reason.values)}")
    now = timezone.now()
    if invalidity_date is not None and invalidity_date > now:
        raise ValidationError("the invalidity date cannot be in the future")
    _check_actor(actor, cert)
    with transaction.atomic():
        cert = IssuedCertificate.objects.select_for_update().select_related("ca").get(pk=cert.pk)
        found = Revocation.objects.filter(certificate=cert).first()
        current = found if found is not None and found.released_at is None else None
        if current is not None and (current.reason != HOLD or reason == HOLD):
            return Revoked(current, changed=False)
        row = found or Revocation(certificate=cert, ca=cert.ca, serial=cert.serial)
        was_on_hold = current is not None
        if not was_on_hold:
            row.revoked_at = now
        row.reason = reason
        row.invalidity_date = invalidity_date
        row.released_at = None
        row.not_after = cert.not_after
        row.revoked_by = actor if isinstance(actor, User) else None
        row.requester = requester or _name(actor)
        row.updated_at = now
        row.entry = crl.encode_entry(int(cert.serial, 16), row.revoked_at, reason, invalidity_date)
        row.save()
        cert.status = IssuedCertificate.Status.REVOKED
        cert.save(update_fields=["status"])
        _after_change(cert)
        record(
            "ca.certificate.revoked",
            actor=actor,
            domain=cert.domain,
            obj=cert,
            details={
                "serial": cert.serial,
                "ca": cert.ca.slug,
                "reason": reason,
                "revoked_at": row.revoked_at.isoformat(),
                "invalidity_date": invalidity_date.isoformat() if invalidity_date else None,
                "previous_reason": HOLD if was_on_hold else None,
                "requester": row.requester,
            },
        )
    return Revoked(row, changed=True)


def release_hold(
    cert: IssuedCertificate,
    *,
    actor: User | AnonymousUser | None = None,
    requester: str = "",
    comment: str = "",
) -> Revoked:
    """End a certificateHold: the certificate is valid again, OCSP says `good` and the next
    delta CRL lists it as removeFromCRL (RFC 5280 §5.2.4). Only a hold can be released."""
    _check_actor(actor, cert)
    with transaction.atomic():
        cert = IssuedCertificate.objects.select_for_update().select_related("ca").get(pk=cert.pk)
        row = Revocation.objects.filter(certificate=cert, released_at=None).first()
        if row is None or row.reason != HOLD:
            state = "not revoked" if row is None else f"revoked ({row.reason})"
            raise Conflict(f"certificate {cert.serial} is {state}, not on hold", "not_on_hold")
        now = timezone.now()
        row.released_at = now
        row.updated_at = now
        row.save(update_fields=["released_at", "updated_at"])
        cert.status = IssuedCertificate.Status.VALID
        cert.save(update_fields=["status"])
        _after_change(cert)
        record(
            "ca.certificate.released",
            actor=actor,
            domain=cert.domain,
            obj=cert,
            details={
                "serial": cert.serial,
                "ca": cert.ca.slug,
                "requester": requester or _name(actor),
            },
        )
    return Revoked(row, changed=True)


def _after_change(cert: IssuedCertificate) -> None:
    # OCSP inside the transaction: the answer changes exactly when the revocation commits.
    ocsp.refresh_certificate(cert)
    crls.schedule(cert.ca)


def _check_actor(actor: User | AnonymousUser | None, cert: IssuedCertificate) -> None:
    """A person needs certs.revoke in the certificate's domain; protocol front-ends (ACME
    revokeCert) pass no actor and have authenticated the requester themselves."""
    if actor is not None and not has_perm(actor, Perm.CERTS_REVOKE, cert.domain):
        raise Forbidden(f"you do not hold {Perm.CERTS_REVOKE.value} in domain {cert.domain.slug}")


def _name(actor: User | AnonymousUser | None) -> str:
    return f"user:{actor.get_username()}" if isinstance(actor, User) else ""
