"""ACME state (RFC 8555 §7.1): per-domain settings, accounts, orders, authorizations,
challenges, the nonce store's database fallback, and ARI early-renewal flags (RFC 9773)."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import models


def new_ident() -> str:
    # Object URLs carry a random identifier, not a row number: nothing to enumerate.
    return secrets.token_urlsafe(15)


def new_token() -> str:
    # RFC 8555 §8.3: at least 128 bits of entropy, base64url.
    return secrets.token_urlsafe(32)


class AcmeSettings(models.Model):
    domain = models.OneToOneField("pki.Domain", on_delete=models.CASCADE, related_name="acme")
    enabled = models.BooleanField(default=True)
    profile = models.CharField(max_length=100, default="acme-tls-server")
    eab_required = models.BooleanField(default=False)
    ari_explanation_url = models.URLField(
        blank=True, help_text="explanationURL of early-renewal windows (RFC 9773 §4.2)"
    )

    class Meta:
        verbose_name_plural = "ACME settings"

    def __str__(self) -> str:
        return f"ACME in {self.domain}"


class Status(models.TextChoices):
    PENDING = "pending"
    READY = "ready"
    PROCESSING = "processing"
    VALID = "valid"
    INVALID = "invalid"
    DEACTIVATED = "deactivated"
    REVOKED = "revoked"
    EXPIRED = "expired"


class AcmeAccount(models.Model):
    domain = models.ForeignKey("pki.Domain", on_delete=models.CASCADE, related_name="+")
    ident = models.CharField(max_length=40, unique=True, default=new_ident)
    thumbprint = models.CharField(max_length=43, help_text="RFC 7638 SHA-256 JWK thumbprint")
    jwk = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.VALID)
    contacts = models.JSONField(default=list, blank=True)
    eab_key_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "thumbprint"], name="acme_one_account_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"account {self.ident} in {self.domain}"

    @property
    def requester(self) -> str:
        return f"acme-account:{self.ident}"


class AcmeOrder(models.Model):
    account = models.ForeignKey(AcmeAccount, on_delete=models.CASCADE, related_name="orders")
    ident = models.CharField(max_length=40, unique=True, default=new_ident)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    identifiers = models.JSONField(help_text='[{"type": "dns", "value": "..."}]')
    expires = models.DateTimeField()
    error = models.JSONField(null=True, blank=True)
    certificate = models.ForeignKey(
        "pki.IssuedCertificate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    replaces = models.ForeignKey(
        "pki.IssuedCertificate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the certificate this order renews (RFC 9773 §5)",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"order {self.ident} ({self.status})"


class AcmeAuthorization(models.Model):
    order = models.ForeignKey(AcmeOrder, on_delete=models.CASCADE, related_name="authorizations")
    ident = models.CharField(max_length=40, unique=True, default=new_ident)
    identifier_type = models.CharField(max_length=8)
    identifier_value = models.CharField(max_length=255)
    wildcard = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    expires = models.DateTimeField()

    def __str__(self) -> str:
        return f"authz {self.identifier_value} ({self.status})"


class AcmeChallenge(models.Model):
    authorization = models.ForeignKey(
        AcmeAuthorization, on_delete=models.CASCADE, related_name="challenges"
    )
    ident = models.CharField(max_length=40, unique=True, default=new_ident)
    type = models.CharField(max_length=16)
    token = models.CharField(max_length=64, default=new_token)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    validated = models.DateTimeField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    # When the client asked for validation: a check still processing long after was lost
    # (broker down at commit) and is sent again by the beat sweep.
    requested_at = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.type} challenge {self.ident} ({self.status})"


class AcmeNonce(models.Model):
    """The nonce store when there is no Redis (RFC 8555 §6.5): deleted when used."""

    value = models.CharField(max_length=64, primary_key=True)
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.value


class RenewalFlag(models.Model):
    """An operator's request that a certificate — or every certificate of a CA — be renewed
    early: its ARI window moves to now (RFC 9773 §4.2)."""

    domain = models.ForeignKey("pki.Domain", on_delete=models.CASCADE, related_name="+")
    certificate = models.ForeignKey(
        "pki.IssuedCertificate", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ca = models.ForeignKey(
        "pki.CertificateAuthority",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    explanation_url = models.URLField(blank=True)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(certificate__isnull=False) | models.Q(ca__isnull=False),
                name="acme_flag_names_a_certificate_or_ca",
            )
        ]

    def __str__(self) -> str:
        return f"renew early: {self.certificate or self.ca}"

    def clean(self) -> None:
        target = self.certificate or self.ca
        if (self.certificate is None) == (self.ca is None):
            raise ValidationError("flag either one certificate or one CA")
        if target is not None and target.domain_id != self.domain_id:
            raise ValidationError("the certificate or CA belongs to another domain")


class ExternalAccountKey(models.Model):
    """An external account binding key (RFC 8555 §7.3.4), made by an operator and handed to
    one subscriber; it binds one ACME account. The HMAC key must be usable to verify MACs,
    so it is sealed with the KEK (pki.crypto.sealing), never stored in the clear."""

    domain = models.ForeignKey("pki.Domain", on_delete=models.CASCADE, related_name="+")
    key_id = models.CharField(max_length=64, unique=True)
    sealed_hmac_key = models.BinaryField()
    comment = models.CharField(max_length=200, blank=True)
    account = models.OneToOneField(
        AcmeAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="eab_key"
    )
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"EAB key {self.key_id}"
