"""Devices and enrollment credentials: the business rules behind the API, the console and
EST's Basic authentication."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from accounts.roles import Perm, has_perm
from audit.services import record
from config.errors import Conflict, Forbidden
from enrollment.models import Device, EnrollmentCredential, EstConfig
from pki.models import Domain

SECRET_BYTES = 32  # 256 bits: a digest without a slow hash is then safe (DESIGN.md)
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def require_manager(user: User, domain: Domain) -> None:
    if not has_perm(user, Perm.DEVICES_MANAGE, domain):
        raise Forbidden(f"you do not hold {Perm.DEVICES_MANAGE.value} in domain {domain.slug}")


@transaction.atomic
def create_device(
    domain: Domain,
    user: User | None,
    *,
    name: str,
    serial_number: str = "",
    description: str = "",
    onboarding_method: str = Device.Onboarding.NONE,
) -> Device:
    """A device and how it is to be onboarded: it waits for its domain credential (pending),
    or, with no onboarding, needs none."""
    if user is not None:
        require_manager(user, domain)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "a device needs a name"})
    if onboarding_method not in Device.Onboarding.values:
        choices = ", ".join(Device.Onboarding.values)
        raise ValidationError({"onboarding_method": f"one of: {choices}"})
    if Device.objects.filter(domain=domain, name=name).exists():
        raise ValidationError({"name": f"domain {domain.slug} already has a device {name!r}"})
    device = Device.objects.create(
        domain=domain,
        name=name,
        serial_number=serial_number.strip(),
        description=description,
        created_by=user,
        onboarding_method=onboarding_method,
        onboarding_state=Device.State.NOT_REQUIRED
        if onboarding_method == Device.Onboarding.NONE
        else Device.State.PENDING,
    )
    record(
        "enrollment.device.created",
        actor=user,
        domain=domain,
        obj=device,
        details={
            "name": name,
            "serial_number": device.serial_number,
            "onboarding_method": onboarding_method,
        },
    )
    return device


def create_credential(
    domain: Domain,
    user: User | None,
    *,
    username: str = "",
    device: Device | None = None,
    description: str = "",
    secret: str | None = None,
) -> tuple[EnrollmentCredential, str]:
    """A credential and its secret: the only time the secret is seen. `secret` is for the
    demo's stable password; everyone else gets a fresh random one."""
    if user is not None:
        require_manager(user, domain)
    if device is not None and device.domain_id != domain.pk:
        raise ValidationError({"device": "the device belongs to another domain"})
    username = username.strip() or (
        f"{device.name}-{secrets.token_hex(3)}" if device else f"est-{secrets.token_hex(4)}"
    )
    if len(username) > 150 or ":" in username:
        raise ValidationError({"username": "at most 150 characters, without ':' (RFC 7617)"})
    secret = secret or new_secret()
    if len(secret) < 16:
        raise ValidationError({"secret": "too short"})
    try:
        with transaction.atomic():
            credential = EnrollmentCredential.objects.create(
                domain=domain,
                device=device,
                username=username,
                digest=secret_digest(secret),
                description=description,
                created_by=user,
            )
            record(
                "enrollment.credential.created",
                actor=user,
                domain=domain,
                obj=credential,
                details={"username": username, "device": device.name if device else None},
            )
    except IntegrityError:
        raise ValidationError(
            {"username": f"domain {domain.slug} already has a credential {username!r}"}
        ) from None
    return credential, secret


@transaction.atomic
def revoke_credential(
    credential: EnrollmentCredential, user: User | None, *, comment: str = ""
) -> EnrollmentCredential:
    if user is not None:
        require_manager(user, credential.domain)
    locked = EnrollmentCredential.objects.select_for_update().get(pk=credential.pk)
    if locked.revoked_at is not None:
        raise Conflict("the credential is already revoked", "already_revoked")
    locked.revoked_at = timezone.now()
    locked.revoked_by = user
    locked.save(update_fields=["revoked_at", "revoked_by"])
    record(
        "enrollment.credential.revoked",
        actor=user,
        domain=locked.domain,
        obj=locked,
        details={"username": locked.username, "comment": comment},
    )
    return locked


def check_password(domain: Domain, username: str, password: str) -> EnrollmentCredential | None:
    """The active credential `username` of `domain` when `password` is its secret."""
    credential = (
        EnrollmentCredential.objects.select_related("device")
        .filter(domain=domain, username=username, revoked_at__isnull=True)
        .first()
    )
    # Compare digests in constant time; hash even when there is no such user so the answer
    # takes as long either way.
    offered = secret_digest(password)
    stored = credential.digest if credential is not None else "0" * 64
    if not hmac.compare_digest(offered, stored) or credential is None:
        return None
    now = timezone.now()
    if credential.last_used_at is None or now - credential.last_used_at > _LAST_USED_GRANULARITY:
        EnrollmentCredential.objects.filter(pk=credential.pk).update(last_used_at=now)
    return credential


def ensure_credential(
    domain: Domain, username: str, secret: str, description: str = ""
) -> EnrollmentCredential:
    """The active credential `username` with exactly this secret (bootstrap_demo): made when
    missing; its digest reset and a revocation lifted when it differs (audited)."""
    credential = EnrollmentCredential.objects.filter(domain=domain, username=username).first()
    if credential is None:
        return create_credential(
            domain, None, username=username, secret=secret, description=description
        )[0]
    changed = []
    if credential.digest != secret_digest(secret):
        credential.digest = secret_digest(secret)
        changed.append("digest")
    if credential.revoked_at is not None:
        credential.revoked_at, credential.revoked_by = None, None
        changed += ["revoked_at", "revoked_by"]
    if changed:
        with transaction.atomic():
            credential.save(update_fields=changed)
            record(
                "enrollment.credential.reset",
                domain=domain,
                obj=credential,
                details={"username": username},
            )
    return credential


_Settings = TypeVar("_Settings", bound=models.Model)


def domain_settings(domain: Domain, model: type[_Settings]) -> _Settings:
    """The domain's one row of a per-domain settings model (EST, CMP, onboarding): the
    defaults, unsaved, when none was made. Remembered on the domain object, which lives for
    one request; forget_settings() after a change."""
    key = f"_settings_{model._meta.label_lower}"
    found = domain.__dict__.get(key)
    if found is None:
        found = model._default_manager.filter(domain=domain).first() or model(domain=domain)
        domain.__dict__[key] = found
    return found


def forget_settings(domain: Domain, model: type[models.Model]) -> None:
    domain.__dict__.pop(f"_settings_{model._meta.label_lower}", None)


def est_config(domain: Domain) -> EstConfig:
    """The domain's EST binding."""
    return domain_settings(domain, EstConfig)
