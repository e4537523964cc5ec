"""Issued certificates, idempotency keys, and certificate requests awaiting approval."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IssuedCertificate(models.Model):
    class Status(models.TextChoices):
        VALID = "valid"
        REVOKED = "revoked"

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    ca = models.ForeignKey(
        "pki.CertificateAuthority", on_delete=models.PROTECT, related_name="issued"
    )
    profile_version = models.ForeignKey(
        "pki.ProfileVersion", on_delete=models.PROTECT, related_name="issued"
    )
    serial = models.CharField(max_length=64, unique=True)  # upper-case hex
    der = models.BinaryField()
    subject = models.CharField(max_length=500, blank=True)
    sans = models.JSONField(default=list, blank=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField(db_index=True)
    fingerprint = models.CharField(max_length=64, db_index=True)
    key_algorithm = models.CharField(max_length=20)
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.VALID, db_index=True
    )
    protocol = models.CharField(max_length=10)
    requester = models.CharField(max_length=200, help_text="who asked: user, device, account")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.serial} {self.subject}"


class IdempotencyKey(models.Model):
    """Claimed before anything is signed, so concurrent retries wait for the first and then
    return its certificate (the unique index serialises them on PostgreSQL)."""

    domain = models.ForeignKey("pki.Domain", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request's facts")
    certificate = models.OneToOneField(
        IssuedCertificate, null=True, on_delete=models.CASCADE, related_name="idempotency"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["domain", "key"], name="one_idempotency_key")
        ]

    def __str__(self) -> str:
        return self.key


class CertificateRequest(models.Model):
    """A CSR an RA officer submitted; issued only when someone holding certs.issue approves."""

    class State(models.TextChoices):
        PENDING = "pending"
        ISSUED = "issued"
        REJECTED = "rejected"
        CANCELLED = "cancelled"
        FAILED = "failed"

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    profile = models.ForeignKey("pki.Profile", on_delete=models.PROTECT, related_name="+")
    csr = models.BinaryField()
    subject = models.CharField(max_length=500, blank=True)
    comment = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    approval = models.OneToOneField(
        "approvals.ApprovalRequest",
        null=True,
        on_delete=models.PROTECT,
        related_name="certificate_request",
    )
    certificate = models.ForeignKey(
        IssuedCertificate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"request #{self.pk} {self.subject}"
