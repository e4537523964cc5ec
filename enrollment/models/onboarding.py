"""How devices of a domain are onboarded (seed 004): which protocol operations the domain
allows (least privilege), and which IDevIDs may onboard without a shared secret."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

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
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "onboarding configuration"

    def __str__(self) -> str:
        return f"onboarding of {self.domain_id}"
