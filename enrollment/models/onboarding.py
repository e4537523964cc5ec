"""How devices of a domain are onboarded (seed 004): which protocol operations the domain
allows (least privilege), and which IDevIDs may onboard without a shared secret."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

if TYPE_CHECKING:
    from pki.models import Domain

# Every operation a device can be allowed, as "<protocol>.<operation>".
OPERATIONS: dict[str, tuple[str, ...]] = {
    "est": ("cacerts", "csrattrs", "simpleenroll", "simplereenroll", "serverkeygen"),
    "cmp": ("ir", "cr", "kur", "p10cr", "rr", "genm"),
}
ALL_OPERATIONS: list[str] = [f"{p}.{op}" for p, ops in OPERATIONS.items() for op in ops]


def all_operations() -> list[str]:
    return list(ALL_OPERATIONS)


def validate_operations(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
        raise ValidationError("allowed operations must be a list of names")
    unknown = sorted(set(value) - set(ALL_OPERATIONS))
    if unknown:
        raise ValidationError(f"unknown operations: {', '.join(unknown)}")


def validate_patterns(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise ValidationError("serial-number patterns must be a list of regular expressions")
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValidationError(
                f"pattern {pattern!r} is not a regular expression: {exc}"
            ) from None


class OnboardingConfig(models.Model):
    domain = models.OneToOneField("pki.Domain", on_delete=models.CASCADE, related_name="+")
    allowed_operations = models.JSONField(
        default=all_operations, validators=[validate_operations], blank=True
    )
    idevid_enabled = models.BooleanField(
        default=False,
        help_text="devices proving an IDevID from the domain's provisioning truststore onboard "
        "without a shared secret",
    )
    idevid_serial_patterns = models.JSONField(
        default=list,
        validators=[validate_patterns],
        blank=True,
        help_text="regular expressions; an IDevID's subject serialNumber must match one in full",
    )
    credential_profile = models.CharField(
        max_length=100,
        default="device",
        help_text="the profile domain credentials are issued under (PKCS#12 and browser "
        "onboarding)",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "onboarding configuration"

    def __str__(self) -> str:
        return f"onboarding of {self.domain_id}"


class OnboardingLink(models.Model):
    """A one-time, expiring link that lets a person fetch a device's domain credential once as
    a PKCS#12 (browser onboarding). Only the SHA-256 digest of its 32-byte random token is
    kept: the URL is shown once to the RA officer who made it."""

    device = models.ForeignKey(
        "enrollment.Device", on_delete=models.CASCADE, related_name="onboarding_links"
    )
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, hex")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    certificate = models.ForeignKey(
        "pki.IssuedCertificate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"onboarding link {self.pk} of {self.device_id}"

    @property
    def domain(self) -> Domain:  # DomainPermission and the scoped viewsets read obj.domain
        return self.device.domain

    def state(self, now: datetime) -> str:
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "open"
