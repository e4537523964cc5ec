"""CMP's business rules outside the wire protocol: shared secrets (made, shown once, revoked),
each domain's binding, and the domain's protection key."""

from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.roles import Perm, has_perm
from audit.services import record
from config.errors import Conflict, Forbidden
from enrollment.cmp.models import CmpConfig, CmpProtectionKey, CmpSecret
from enrollment.models import Device
from pki.crypto import sealing
from pki.crypto.cmp import responses
from pki.models import Domain, IssuedCertificate, Protocol
from pki.services import cas
from pki.services.issuance import IssueRequest, issue

_PURPOSE = "cmp-secret"
SECRET_BYTES = 24
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def _require(user: User, domain: Domain) -> None:
    if not has_perm(user, Perm.DEVICES_MANAGE, domain):
        raise Forbidden(f"you do not hold {Perm.DEVICES_MANAGE.value} in domain {domain.slug}")


def cmp_config(domain: Domain) -> CmpConfig:
    """The domain's CMP binding (the defaults, unsaved, when none was made), remembered on
    the domain object, which lives for one request."""
    found = domain.__dict__.get("_cmp_config")
    if found is None:
        found = CmpConfig.objects.filter(domain=domain).first() or CmpConfig(domain=domain)
        domain.__dict__["_cmp_config"] = found
    return found


def enabled(domain: Domain) -> bool:
    return domain.protocol_enabled(Protocol.CMP) and cmp_config(domain).enabled


# --- shared secrets -----------------------------------------------------------------------


def create_secret(
    domain: Domain,
    user: User | None,
    *,
    reference: str = "",
    device: Device | None = None,
    description: str = "",
    secret: str | None = None,
) -> tuple[CmpSecret, str]:
    """A secret and its value: the only time the value is seen. `secret` is for the demo's
    stable one; everyone else gets a fresh random one."""
    if user is not None:
        _require(user, domain)
    if device is not None and device.domain_id != domain.pk:
        raise ValidationError({"device": "the device belongs to another domain"})
    reference = reference.strip() or f"cmp-{secrets.token_hex(6)}"
    if len(reference) > 128 or not reference.isprintable():
        raise ValidationError({"reference": "at most 128 printable characters"})
    value = secret or secrets.token_urlsafe(SECRET_BYTES)
    if len(value) < 16:
        raise ValidationError({"secret": "too short: at least 16 characters"})
    try:
        with transaction.atomic():
            row = CmpSecret.objects.create(
                domain=domain,
                device=device,
                reference=reference,
                sealed=sealing.seal(value.encode(), _PURPOSE),
                description=description,
                created_by=user,
            )
            record(
                "cmp.secret.created",
                actor=user,
                domain=domain,
                obj=row,
                details={"reference": reference, "device": device.name if device else None},
            )
    except IntegrityError:
        raise ValidationError(
            {"reference": f"domain {domain.slug} already has a CMP secret {reference!r}"}
        ) from None
    return row, value


@transaction.atomic
def revoke_secret(row: CmpSecret, user: User | None, *, comment: str = "") -> CmpSecret:
    if user is not None:
        _require(user, row.domain)
    locked = CmpSecret.objects.select_for_update().get(pk=row.pk)
    if locked.revoked_at is not None:
        raise Conflict("the CMP secret is already revoked", "already_revoked")
    locked.revoked_at = timezone.now()
    locked.revoked_by = user
    locked.save(update_fields=["revoked_at", "revoked_by"])
    record(
        "cmp.secret.revoked",
        actor=user,
        domain=locked.domain,
        obj=locked,
        details={"reference": locked.reference, "comment": comment},
    )
    return locked


def ensure_secret(domain: Domain, reference: str, value: str, description: str = "") -> CmpSecret:
    """The active secret `reference` with exactly this value (bootstrap_demo)."""
    row = CmpSecret.objects.filter(domain=domain, reference=reference).first()
    if row is None:
        return create_secret(
            domain, None, reference=reference, secret=value, description=description
        )[0]
    if row.revoked_at is not None or secret_value(row) != value.encode():
        with transaction.atomic():
            row.sealed = sealing.seal(value.encode(), _PURPOSE)
            row.revoked_at, row.revoked_by = None, None
            row.save(update_fields=["sealed", "revoked_at", "revoked_by"])
            record("cmp.secret.reset", domain=domain, obj=row, details={"reference": reference})
    return row


def secret_value(row: CmpSecret) -> bytes:
    return sealing.unseal(bytes(row.sealed), _PURPOSE)


def find_secret(domain: Domain, reference: bytes | None) -> CmpSecret | None:
    """The active secret of `domain` named `reference` (the request's senderKID)."""
    if not reference or len(reference) > 128:
        return None
    try:
        text = reference.decode()
    except UnicodeDecodeError:
        return None
    row = (
        CmpSecret.objects.select_related("device")
        .filter(domain=domain, reference=text, revoked_at__isnull=True)
        .first()
    )
    if row is not None:
        now = timezone.now()
        if row.last_used_at is None or now - row.last_used_at > _LAST_USED_GRANULARITY:
            CmpSecret.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


# --- the domain's protection key ----------------------------------------------------------

_keys: dict[int, tuple[CmpProtectionKey, responses.SigningKey]] = {}
_lock = threading.Lock()


def _fresh(row: CmpProtectionKey, now: datetime) -> bool:
    cert = row.certificate
    life = cert.not_after - cert.not_before
    return cert.status == IssuedCertificate.Status.VALID and row.not_after - now > life / 3


def protection_key(domain: Domain) -> responses.SigningKey:
    """The domain's CMP protection key, loaded once per process; made (issued through
    issue() by the CA of the ir profile) when missing or a third of its life remains."""
    now = timezone.now()
    cached = _keys.get(domain.pk)
    if cached is not None and _fresh(cached[0], now):
        return cached[1]
    with transaction.atomic():
        Domain.objects.select_for_update().filter(pk=domain.pk).exists()
        row = (
            CmpProtectionKey.objects.select_related("certificate__ca")
            .filter(domain=domain, not_after__gt=now)
            .first()
        )
        if row is None or not _fresh(row, now):
            row = _new_key(domain)
    loaded = responses.signing_key(
        row.key_ref, bytes(row.certificate.der), cas.issuing_chain(row.certificate.ca)
    )
    with _lock:
        _keys[domain.pk] = (row, loaded)
    return loaded


def _new_key(domain: Domain) -> CmpProtectionKey:
    key_ref, csr_der = responses.new_protection_key_and_csr(f"{domain.slug} CMP protection")
    issued = issue(
        IssueRequest(
            domain=domain,
            profile=cmp_config(domain).profile_for("ir"),
            csr=csr_der,
            protocol=Protocol.CMP.value,
            requester="cmp:protection-key",
            validity_days=settings.ANCHORAGE_CMP_PROTECTION_DAYS,
            extra={"purpose": "CMP protection (RFC 9483 §3.3)"},
        )
    )
    cert = issued.certificate
    return CmpProtectionKey.objects.create(
        domain=domain, certificate=cert, key_ref=key_ref, not_after=cert.not_after
    )


def forget() -> None:
    """Drop what this process remembers (tests)."""
    _keys.clear()
