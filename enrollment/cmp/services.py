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

from audit.services import record
from config.errors import Conflict
from enrollment.cmp.models import CmpConfig, CmpProtectionKey, CmpSecret
from enrollment.models import Device
from enrollment.services import domain_settings, forget_settings, require_manager
from pki.crypto import sealing
from pki.crypto.cmp import responses
from pki.models import CertificateAuthority, Domain, Protocol
from pki.services import cas, profiles
from pki.services.system_certs import issue_system_certificate

_PURPOSE = "cmp-secret"
SECRET_BYTES = 24
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def cmp_config(domain: Domain) -> CmpConfig:
    """The domain's CMP binding."""
    return domain_settings(domain, CmpConfig)


def enabled(domain: Domain) -> bool:
    return domain.protocol_enabled(Protocol.CMP) and cmp_config(domain).enabled


PROFILE_FIELDS = ("ir_profile", "cr_profile", "p10cr_profile", "kur_profile")


@transaction.atomic
def update_config(
    user: User,
    domain: Domain,
    *,
    profiles_by_operation: dict[str, str] | None = None,
    allow_implicit_confirm: bool | None = None,
) -> CmpConfig:
    """Change the domain's CMP binding: the profile of each operation (`kur_profile` may be
    empty: a key update keeps the old certificate's profile) and implicitConfirm. All of it
    or, on a bad value (ValidationError naming it), nothing. Audited with before / after."""
    require_manager(user, domain)
    found, _ = CmpConfig.objects.select_for_update().get_or_create(domain=domain)
    before = _snapshot(found)
    for name, value in (profiles_by_operation or {}).items():
        if name not in PROFILE_FIELDS:
            raise ValidationError({name: "not a CMP operation's profile"})
        value = value.strip()
        if not value and name == "kur_profile":
            found.kur_profile = ""
            continue
        if profiles.current_by_name(domain, value) is None:
            raise ValidationError({name: f"domain {domain.slug} has no profile {value!r}"})
        setattr(found, name, value)
    if allow_implicit_confirm is not None:
        found.allow_implicit_confirm = allow_implicit_confirm
    found.save()
    forget_settings(domain, CmpConfig)
    record(
        "cmp.configured",
        actor=user,
        domain=domain,
        obj=found,
        details={"before": before, "after": _snapshot(found)},
    )
    return found


def _snapshot(found: CmpConfig) -> dict[str, object]:
    return {
        **{name: getattr(found, name) for name in PROFILE_FIELDS},
        "allow_implicit_confirm": found.allow_implicit_confirm,
    }


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
        require_manager(user, domain)
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
        require_manager(user, row.domain)
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
    assert row.not_before is not None
    return row.not_after - now > (row.not_after - row.not_before) / 3


# RFC 9483 §3.1 / RFC 9480 §2.2: a PKI management entity's CMP protection certificate signs
# (digitalSignature) and is marked id-kp-cmcRA: it is not the CA key, it speaks for the CA.
PROTECTION_KEY_USAGE = ["digitalSignature"]
PROTECTION_EKU = ["1.3.6.1.5.5.7.3.28"]  # id-kp-cmcRA


def protection_key(domain: Domain) -> responses.SigningKey:
    """The domain's CMP protection key, loaded once per process; made when missing or a
    third of its life remains. Its contents are fixed (not the ir profile's): an RA officer
    narrowing a profile cannot break signed CMP."""
    now = timezone.now()
    cached = _keys.get(domain.pk)
    if cached is not None and _fresh(cached[0], now):
        return cached[1]
    with transaction.atomic():
        Domain.objects.select_for_update().filter(pk=domain.pk).exists()
        row = (
            CmpProtectionKey.objects.select_related("ca")
            .filter(domain=domain, ca__isnull=False, not_after__gt=now)
            .first()
        )
        if row is None or not _fresh(row, now):
            row = _new_key(domain)
    assert row.ca is not None
    loaded = responses.signing_key(row.key_ref, bytes(row.der), cas.issuing_chain(row.ca))
    with _lock:
        _keys[domain.pk] = (row, loaded)
    return loaded


def signing_ca(domain: Domain) -> CertificateAuthority:
    """The CA that answers CMP for the domain: the one issuing under the ir profile."""
    version = profiles.current_by_name(domain, cmp_config(domain).ir_profile)
    if version is None:
        raise cas.CaUnavailable(
            f"domain {domain.slug} has no profile {cmp_config(domain).ir_profile!r}"
        )
    return cas.active(version.ca)


def _new_key(domain: Domain) -> CmpProtectionKey:
    key_ref, public_key_der = responses.new_protection_key()
    made = issue_system_certificate(
        signing_ca(domain),
        common_name=f"{domain.slug} CMP protection",
        public_key_der=public_key_der,
        key_usage=PROTECTION_KEY_USAGE,
        ext_key_usage=PROTECTION_EKU,
        days=settings.ANCHORAGE_CMP_PROTECTION_DAYS,
        purpose="CMP protection (RFC 9483 §3.3)",
    )
    return CmpProtectionKey.objects.create(
        domain=domain,
        ca=made.ca,
        der=made.der,
        serial=made.serial,
        key_ref=key_ref,
        not_before=made.not_before,
        not_after=made.not_after,
    )


def forget() -> None:
    """Drop what this process remembers (tests)."""
    _keys.clear()
