"""Devices and the credentials they enroll with."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Device(models.Model):
    class Onboarding(models.TextChoices):
        # seed 004: a domain credential first, by one of these; or none at all
        CMP_SHARED_SECRET = "cmp_shared_secret", "CMP with a shared secret"
        EST_CREDENTIAL = "est_credential", "EST with an enrollment credential"
        IDEVID = "idevid", "IDevID (zero touch)"
        MANUAL_PKCS12 = "manual_pkcs12", "PKCS#12 download"
        BROWSER = "browser", "one-time browser link"
        NONE = "none", "no onboarding: application certificates directly"

    class State(models.TextChoices):
        PENDING = "pending", "waiting for its domain credential"
        ONBOARDED = "onboarded", "holds a domain credential"
        NOT_REQUIRED = "not_required", "no onboarding"

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    serial_number = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    onboarding_method = models.CharField(
        max_length=20, choices=Onboarding.choices, default=Onboarding.NONE
    )
    onboarding_state = models.CharField(
        max_length=20, choices=State.choices, default=State.NOT_REQUIRED
    )
    domain_credential = models.ForeignKey(
        "pki.IssuedCertificate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    onboarded_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "name"], name="one_device_name_per_domain")
        ]

    def __str__(self) -> str:
        return f"{self.domain_id}/{self.name}"


class EnrollmentCredential(models.Model):
    """HTTP Basic credential for EST (RFC 7030 §3.2.3). The secret is long and random, shown
    once, and kept only as its SHA-256 digest (DESIGN.md: no slow hash on every request)."""

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.PROTECT, related_name="credentials"
    )
    username = models.CharField(max_length=150)
    digest = models.CharField(max_length=64, help_text="SHA-256 of the secret, hex")
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "username"], name="one_credential_username_per_domain"
            )
        ]

    def __str__(self) -> str:
        return f"{self.domain_id}/{self.username}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class DeviceCertificate(models.Model):
    """A certificate EST issued, with the credential or certificate that asked for it."""

    certificate = models.OneToOneField(
        "pki.IssuedCertificate", on_delete=models.PROTECT, related_name="+"
    )
    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.PROTECT, related_name="certificates"
    )
    credential = models.ForeignKey(
        EnrollmentCredential,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="certificates",
    )
    operation = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.operation} {self.certificate_id}"
