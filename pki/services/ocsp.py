"""OCSP state: the delegated responder of each CA and the responses signed ahead of time.
The only writer of OcspResponder and OcspResponse.

Responses are signed when a certificate is issued (in issuance's transaction), when it is
revoked or released (refresh_certificate, in the revoke transaction) and before they expire
(pki.tasks.ocsp). The request path (pki.services.ocsp_respond) reads them and signs only
what cannot be signed ahead: nonce echoes (RFC 8954) and serials we never issued.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from pki.crypto import certs, ocsp
from pki.crypto.backends import get_signer
from pki.models import (
    CertificateAuthority,
    IssuedCertificate,
    OcspResponder,
    OcspResponse,
    Revocation,
)

if TYPE_CHECKING:
    from pki.services import ocsp_respond

BACKDATE = timedelta(minutes=1)  # relying parties whose clocks run a little slow
_RESPONSE_FIELDS = [
    "status",
    "revoked_at",
    "reason",
    "not_after",
    "sha1",
    "sha256",
    "this_update",
    "next_update",
    "updated_at",
]

_current: dict[int, OcspResponder] = {}
_issuers: dict[tuple[int, str], dict[str, tuple[bytes, bytes]]] = {}
_lock = threading.Lock()


def signs_own_ocsp(ca: CertificateAuthority) -> bool:
    """Upstream CAs (AWS Private CA) answer OCSP themselves."""
    return ca.kind != CertificateAuthority.Kind.UPSTREAM


def issuer_hashes(ca: CertificateAuthority) -> dict[str, tuple[bytes, bytes]]:
    """(issuerNameHash, issuerKeyHash) per CertID hash; a CA certificate never changes under
    its row, so kept per process."""
    key = (ca.pk, ca.fingerprint)
    found = _issuers.get(key)
    if found is None:
        found = ocsp.issuer_hashes(bytes(ca.certificate))
        _issuers[key] = found
    return found


def forget() -> None:
    """Drop what this process remembers (tests)."""
    _current.clear()
    _issuers.clear()


def _fresh_enough(responder: OcspResponder, now: datetime) -> bool:
    life = responder.not_after - responder.not_before
    return responder.not_after - now > life / 3


def ensure_responder(ca: CertificateAuthority) -> OcspResponder:
    """The CA's current responder, or a new one when it has none or less than a third of
    its life remains (so responses signed now outlive nothing they rely on)."""
    now = certs.now()
    cached = _current.get(ca.pk)
    if cached is not None and _fresh_enough(cached, now):
        return cached
    with transaction.atomic():
        # The CA row's lock makes two processes renewing at once make one responder.
        CertificateAuthority.objects.select_for_update().filter(pk=ca.pk).exists()
        current = OcspResponder.objects.filter(ca=ca, not_after__gt=now).order_by("-not_after")
        found = current.first()
        if found is None or not _fresh_enough(found, now):
            found = _new_responder(ca, now)
    # Remembered once it is committed: a rolled-back issuance takes its new responder along.
    responder = found
    transaction.on_commit(lambda: _remember(ca.pk, responder))
    return found


def _remember(ca_id: int, responder: OcspResponder) -> None:
    with _lock:
        _current[ca_id] = responder


def _new_responder(ca: CertificateAuthority, now: datetime) -> OcspResponder:
    key_ref, public_key_der = ocsp.new_responder_key()
    not_before = now - BACKDATE
    not_after = min(now + timedelta(days=settings.ANCHORAGE_OCSP_RESPONDER_DAYS), ca.not_after)
    template = certs.CertTemplate(
        subject=[("CN", f"{ca.name} OCSP responder"[:64])],
        public_key_der=public_key_der,
        serial=certs.random_serial(),
        not_before=not_before,
        not_after=not_after,
        key_usage=["digitalSignature"],
        ext_key_usage=["OCSPSigning"],
        # RFC 6960 §4.2.2.2.1: clients need not check the responder's own status.
        ocsp_no_check=True,
    )
    # Signed by the CA's key through its backend (software, PKCS#11, KMS) like any leaf.
    der = certs.build(template, get_signer(ca.key_backend, ca.key_ref), bytes(ca.certificate))
    return OcspResponder.objects.create(
        ca=ca,
        key_algorithm="ec-p256",
        key_ref=key_ref,
        certificate=der,
        serial=certs.serial_hex(template.serial),
        not_before=not_before,
        not_after=not_after,
    )


def loaded_responder(ca: CertificateAuthority) -> tuple[OcspResponder, ocsp.Responder]:
    row = ensure_responder(ca)
    return row, ocsp.responder(row.key_ref, bytes(row.certificate))


def answer_for(
    cert: IssuedCertificate, revocation: Revocation | None, this_update: datetime
) -> ocsp.Answer:
    """What a response says of `cert` now: revoked while a Revocation row is in force (a
    released hold is good again, RFC 5280 §5.3.1 removeFromCRL)."""
    next_update = this_update + timedelta(seconds=settings.ANCHORAGE_OCSP_VALIDITY_SECONDS)
    if revocation is not None and revocation.released_at is None:
        return ocsp.Answer(
            "revoked", this_update, next_update, revocation.revoked_at, revocation.reason
        )
    return ocsp.Answer("good", this_update, next_update)


def presign(
    ca: CertificateAuthority,
    certificates: Iterable[IssuedCertificate],
    *,
    revocations: dict[int, Revocation] | None = None,
) -> None:
    """Sign and upsert the SHA-1 and SHA-256 responses of `certificates` (all of `ca`).
    `revocations` by certificate id, when the caller knows them (new certificates have none);
    otherwise they are read in one query."""
    batch = [c for c in certificates if c.ca_id == ca.pk]
    if not batch or not signs_own_ocsp(ca):
        return
    if revocations is None:
        revocations = {
            r.certificate_id: r for r in Revocation.objects.filter(certificate__in=batch)
        }
    row, responder = loaded_responder(ca)
    hashes = issuer_hashes(ca)
    # Microseconds kept: the responder process compares updated_at to see a re-signing,
    # and a revocation may follow issuance within the same second.
    now = timezone.now()
    this_update = certs.now() - BACKDATE
    rows = []
    for cert in batch:
        answer = answer_for(cert, revocations.get(cert.pk), this_update)
        # A response must not outlive the certificate that signed it.
        if answer.next_update > row.not_after:
            answer = ocsp.Answer(
                answer.status, this_update, row.not_after, answer.revoked_at, answer.reason
            )
        serial = int(cert.serial, 16)
        signed = {
            name: responder.sign(ocsp.CertId(name, *hashes[name], serial), answer)
            for name in ocsp.HASHES
        }
        rows.append(
            OcspResponse(
                ca=ca,
                serial=cert.serial,
                status=answer.status,
                revoked_at=answer.revoked_at,
                reason=answer.reason or "",
                not_after=cert.not_after,
                sha1=signed["sha1"],
                sha256=signed["sha256"],
                this_update=answer.this_update,
                next_update=answer.next_update,
                updated_at=now,
            )
        )
    OcspResponse.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["ca", "serial"], update_fields=_RESPONSE_FIELDS
    )


def presign_issued(certificates: list[IssuedCertificate]) -> None:
    """Issuance's hook: responses for new certificates (no revocation yet), per CA."""
    by_ca: dict[int, tuple[CertificateAuthority, list[IssuedCertificate]]] = {}
    for cert in certificates:
        by_ca.setdefault(cert.ca_id, (cert.ca, []))[1].append(cert)
    for ca, batch in by_ca.values():
        presign(ca, batch, revocations={})


def refresh_certificate(cert: IssuedCertificate) -> None:
    """Re-sign one certificate's responses now (after a revocation or a released hold), in
    the caller's transaction: visible through OCSP as soon as it commits."""
    presign(cert.ca, [cert])


def refresh_due(limit: int) -> int:
    """Re-sign up to `limit` responses of valid certificates whose nextUpdate is nearer than
    ANCHORAGE_OCSP_REFRESH_SECONDS, and sign those that have none yet (certificates issued
    before the responder existed). One transaction; returns how many were signed."""
    now = certs.now()
    horizon = now + timedelta(seconds=settings.ANCHORAGE_OCSP_REFRESH_SECONDS)
    with transaction.atomic():
        due = list(
            OcspResponse.objects.select_for_update(skip_locked=True)
            .filter(next_update__lt=horizon, not_after__gt=now)
            .order_by("next_update")
            .values_list("serial", flat=True)[:limit]
        )
        serials = set(due)
        if len(serials) < limit:
            serials |= set(_unsigned(now, limit - len(serials)))
        return _resign(IssuedCertificate.objects.filter(serial__in=serials))


def _unsigned(now: datetime, limit: int) -> list[str]:
    answered = OcspResponse.objects.filter(ca=OuterRef("ca"), serial=OuterRef("serial"))
    return list(
        IssuedCertificate.objects.filter(not_after__gt=now)
        .exclude(ca__kind=CertificateAuthority.Kind.UPSTREAM)
        .filter(~Exists(answered))
        .order_by()
        .values_list("serial", flat=True)[:limit]
    )


def _resign(certificates: QuerySet[IssuedCertificate]) -> int:
    by_ca: dict[int, list[IssuedCertificate]] = {}
    for cert in certificates.select_related("ca"):
        by_ca.setdefault(cert.ca_id, []).append(cert)
    for batch in by_ca.values():
        presign(batch[0].ca, batch)
    return sum(len(b) for b in by_ca.values())


def renew_responder(ca: CertificateAuthority) -> bool:
    """Renew the CA's responder if due; True when a new one was made."""
    before = OcspResponder.objects.filter(ca=ca).order_by("-not_after").first()
    _current.pop(ca.pk, None)
    after = ensure_responder(ca)
    return before is None or after.pk != before.pk


def resign_ca(ca: CertificateAuthority, after_id: int, limit: int) -> int | None:
    """Re-sign the responses of `ca`'s valid certificates with id above `after_id` (a new
    responder signs them), up to `limit`; returns the last id done, None when finished."""
    batch = list(
        IssuedCertificate.objects.filter(ca=ca, pk__gt=after_id, not_after__gt=certs.now())
        .select_related("ca")
        .order_by("pk")[:limit]
    )
    if not batch:
        return None
    with transaction.atomic():
        presign(ca, batch)
    return batch[-1].pk


def cas_to_serve() -> list[CertificateAuthority]:
    """CAs whose responders the tasks keep: ours, not retired, not expired."""
    return list(
        CertificateAuthority.objects.exclude(kind=CertificateAuthority.Kind.UPSTREAM)
        .exclude(status=CertificateAuthority.Status.RETIRED)
        .filter(not_after__gt=certs.now())
        .filter(Exists(IssuedCertificate.objects.filter(ca=OuterRef("pk"))))
    )


def respond(ca_slug: str, request_der: bytes, *, method: str) -> ocsp_respond.Answer:
    """The request path (pki.services.ocsp_respond.respond)."""
    from pki.services import ocsp_respond

    return ocsp_respond.respond(ca_slug, request_der, method=method)
