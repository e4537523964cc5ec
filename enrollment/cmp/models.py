"""CMP (RFC 9483) state: shared secrets, each domain's binding, transactions, seen nonces
(when there is no Redis) and the domain's protection key."""

from __future__ import annotations

from django.conf import settings
from django.db import models

DEFAULT_PROFILE = "device"  # made for every domain by pki.services.default_profiles


class CmpSecret(models.Model):
    """A shared secret for MAC protection (RFC 9483 §3.2, §4.1.1), named by `reference`
    (the senderKID, `openssl cmp -ref`). It must be recovered to compute MACs, so it is
    sealed with the KEK (pki.crypto.sealing), never stored in clear."""

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(
        "enrollment.Device", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reference = models.CharField(max_length=128)
    sealed = models.BinaryField()
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
        verbose_name = "CMP shared secret"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "reference"], name="one_cmp_reference")
        ]

    def __str__(self) -> str:
        return f"{self.domain_id}/{self.reference}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class CmpConfig(models.Model):
    """Each domain's CMP binding: whether it answers, the profile of each operation, and
    how long an unconfirmed certificate waits for certConf."""

    domain = models.OneToOneField("pki.Domain", on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=True)
    ir_profile = models.CharField(max_length=100, default=DEFAULT_PROFILE)
    cr_profile = models.CharField(max_length=100, default=DEFAULT_PROFILE)
    p10cr_profile = models.CharField(max_length=100, default=DEFAULT_PROFILE)
    # Empty: a key update keeps the profile of the certificate it replaces.
    kur_profile = models.CharField(max_length=100, blank=True)
    allow_implicit_confirm = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "CMP configuration"

    def __str__(self) -> str:
        return f"CMP of {self.domain_id}"

    def profile_for(self, operation: str) -> str:
        return {
            "ir": self.ir_profile,
            "cr": self.cr_profile,
            "p10cr": self.p10cr_profile,
            "kur": self.kur_profile,
        }.get(operation, self.ir_profile)


class CmpTransaction(models.Model):
    """One certificate transaction (RFC 4210 §5.1.1 transactionID): open until certConf
    (or implicitConfirm) ends it."""

    class State(models.TextChoices):
        WAITING = "waiting", "waiting for certConf"
        CONFIRMED = "confirmed", "confirmed"
        REJECTED = "rejected", "rejected by the client"
        EXPIRED = "expired", "not confirmed in time"
        FAILED = "failed", "refused"

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    transaction_id = models.CharField(max_length=128)  # hex
    operation = models.CharField(max_length=8)
    sender = models.CharField(max_length=200)  # who: "ref:<reference>" or "cert:<serial>"
    fingerprint = models.CharField(max_length=64)  # SHA-256 of the request body
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    certificate = models.ForeignKey(
        "pki.IssuedCertificate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cert_req_id = models.IntegerField(default=0)
    secret = models.ForeignKey(
        CmpSecret, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    device = models.ForeignKey(
        "enrollment.Device", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    response_nonce = models.BinaryField(default=b"")  # our senderNonce: certConf's recipNonce
    created_at = models.DateTimeField(auto_now_add=True)
    confirm_by = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "CMP transaction"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "transaction_id"], name="one_cmp_transaction_id"
            )
        ]
        indexes = [models.Index(fields=["state", "confirm_by"], name="cmp_unconfirmed")]

    def __str__(self) -> str:
        return f"{self.operation} {self.transaction_id[:16]} {self.state}"


class CmpNonce(models.Model):
    """A senderNonce seen (replay protection, RFC 9483 §3.1) when there is no Redis."""

    key = models.CharField(max_length=64, unique=True)  # SHA-256 of (domain, sender, nonce)
    expires = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "CMP nonce"

    def __str__(self) -> str:
        return self.key[:16]


class CmpProtectionKey(models.Model):
    """The domain's CMP protection certificate (RFC 9483 §3.3: responses to signed requests
    are signed): a system certificate of the domain's CA with fixed contents
    (pki.services.system_certs), its key sealed with the KEK. `certificate` is set only on
    rows made before that, when it was issued through a profile."""

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    ca = models.ForeignKey(
        "pki.CertificateAuthority", null=True, on_delete=models.PROTECT, related_name="+"
    )
    der = models.BinaryField(default=b"")
    serial = models.CharField(max_length=64, blank=True)
    certificate = models.OneToOneField(
        "pki.IssuedCertificate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    key_ref = models.TextField()
    not_before = models.DateTimeField(null=True)
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "CMP protection key"
        ordering = ["-not_after"]

    def __str__(self) -> str:
        return f"CMP protection of {self.domain_id} until {self.not_after:%Y-%m-%d}"
