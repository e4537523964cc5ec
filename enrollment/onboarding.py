"""Onboarding rules (seed 004): which protocol operations a domain allows, how a device gets
its domain credential, and which IDevIDs may register a device on their own.

Protocol front ends call `operation_allowed` before anything else, `register_idevid_device`
once an IDevID's signature and chain are verified, and `record_domain_credential` when the
certificate they issued is the device's domain credential."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import record
from enrollment.models import Device, OnboardingConfig
from enrollment.models.onboarding import OPERATIONS, validate_operations, validate_patterns
from enrollment.services import domain_settings, forget_settings, require_manager
from pki.models import Domain, IssuedCertificate, Reason
from pki.services import profiles
from pki.services.revocation import revoke


class OnboardingRefused(Exception):
    """The device may not onboard this way; the message says why."""


def config(domain: Domain) -> OnboardingConfig:
    """The domain's onboarding configuration."""
    return domain_settings(domain, OnboardingConfig)


def operation_allowed(domain: Domain, protocol: str, operation: str) -> bool:
    """Least privilege per domain: the protocol is on and the operation is allowed."""
    if operation not in OPERATIONS.get(protocol, ()):
        return False
    if not domain.protocol_enabled(protocol):
        return False
    return f"{protocol}.{operation}" in (config(domain).allowed_operations or [])


@transaction.atomic
def update_config(
    user: User,
    domain: Domain,
    *,
    allowed_operations: list[str] | None = None,
    idevid_enabled: bool | None = None,
    idevid_serial_patterns: list[str] | None = None,
    credential_profile: str | None = None,
) -> OnboardingConfig:
    """Change what is given (None leaves a setting as it is): all of it or, on a bad value
    (ValidationError naming it), nothing."""
    require_manager(user, domain)
    found, _ = OnboardingConfig.objects.select_for_update().get_or_create(domain=domain)
    before = _snapshot(found)
    if allowed_operations is not None:
        validate_operations(allowed_operations)
        found.allowed_operations = sorted(set(allowed_operations))
    if idevid_enabled is not None:
        found.idevid_enabled = idevid_enabled
    if idevid_serial_patterns is not None:
        validate_patterns(idevid_serial_patterns)
        found.idevid_serial_patterns = idevid_serial_patterns
    if credential_profile is not None:
        if profiles.current_by_name(domain, credential_profile) is None:
            raise ValidationError(
                f"domain {domain.slug} has no profile {credential_profile!r} to issue domain "
                "credentials under"
            )
        found.credential_profile = credential_profile
    found.save()
    forget_settings(domain, OnboardingConfig)
    record(
        "enrollment.onboarding.configured",
        actor=user,
        domain=domain,
        obj=found,
        details={"before": before, "after": _snapshot(found)},
    )
    return found


def _snapshot(found: OnboardingConfig) -> dict[str, object]:
    return {
        "allowed_operations": list(found.allowed_operations or []),
        "idevid_enabled": found.idevid_enabled,
        "idevid_serial_patterns": list(found.idevid_serial_patterns or []),
        "credential_profile": found.credential_profile,
    }


def idevid_serial_matches(domain: Domain, serial_number: str) -> bool:
    patterns = config(domain).idevid_serial_patterns or []
    return any(re.fullmatch(p, serial_number) for p in patterns)


def register_idevid_device(domain: Domain, serial_number: str, subject: str) -> Device:
    """The device whose IDevID (signature and chain to the domain's provisioning truststore
    already verified by the caller) carries `serial_number`: found, or registered now.
    Raises OnboardingRefused when IDevID onboarding is off or the serial matches no pattern."""
    cfg = config(domain)
    if not cfg.idevid_enabled:
        raise OnboardingRefused(f"IDevID onboarding is off in domain {domain.slug}")
    if not serial_number:
        raise OnboardingRefused("the IDevID's subject has no serialNumber")
    if not idevid_serial_matches(domain, serial_number):
        raise OnboardingRefused(
            f"serial number {serial_number!r} matches none of domain {domain.slug}'s patterns"
        )
    existing = Device.objects.filter(domain=domain, serial_number=serial_number).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            device = Device.objects.create(
                domain=domain,
                name=serial_number,
                serial_number=serial_number,
                description=f"registered by its IDevID {subject}",
                onboarding_method=Device.Onboarding.IDEVID,
                onboarding_state=Device.State.PENDING,
            )
            record(
                "enrollment.device.registered",
                domain=domain,
                obj=device,
                details={"serial_number": serial_number, "idevid_subject": subject},
            )
    except IntegrityError:  # a concurrent first contact registered it
        return Device.objects.get(domain=domain, name=serial_number)
    return device


def record_domain_credential(device: Device, certificate: IssuedCertificate, method: str) -> None:
    """The device now holds `certificate` as its domain credential, obtained by `method`
    (a Device.Onboarding value). The credential it held before is revoked (`superseded`,
    RFC 5280 §5.3.1) in the same transaction: a device has one domain credential, and a
    re-onboarded device's old key must not keep authenticating it."""
    if method not in Device.Onboarding.values or method == Device.Onboarding.NONE:
        raise ValidationError(f"{method!r} is not an onboarding method")
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk)
        previous_id = locked.domain_credential_id
        device.domain_credential = certificate
        device.onboarding_method = method
        device.onboarding_state = Device.State.ONBOARDED
        device.onboarded_at = timezone.now()
        device.save(
            update_fields=[
                "domain_credential",
                "onboarding_method",
                "onboarding_state",
                "onboarded_at",
                "updated_at",
            ]
        )
        superseded = _revoke_superseded(device, previous_id, certificate, method)
        record(
            "enrollment.device.onboarded",
            domain=device.domain,
            obj=device,
            details={"method": method, "serial": certificate.serial, "superseded": superseded},
        )


def _revoke_superseded(
    device: Device, previous_id: int | None, certificate: IssuedCertificate, method: str
) -> str | None:
    """Revoke the device's previous domain credential (when valid); its serial, or None."""
    if previous_id is None or previous_id == certificate.pk:
        return None
    previous = IssuedCertificate.objects.filter(pk=previous_id).first()
    if previous is None or previous.status != IssuedCertificate.Status.VALID:
        return None
    revoke(
        previous,
        Reason.SUPERSEDED.value,
        requester=f"onboarding:{method} device:{device.name}"[:200],
    )
    return previous.serial
