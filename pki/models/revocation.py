"""Revocation state: revoked certificates, the CRLs built from them, the OCSP responder
certificates and the OCSP responses signed ahead of time.

Written only by pki.services.revocation, pki.services.crls and pki.services.ocsp.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Reason(models.TextChoices):
    """CRLReason (RFC 5280 §5.3.1), by its ASN.1 name; value 7 is not used."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    CA_COMPROMISE = "cACompromise"
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"
    CERTIFICATE_HOLD = "certificateHold"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"
    AA_COMPROMISE = "aACompromise"


class Revocation(models.Model):
    """One revoked (or held) certificate. A released hold keeps its row with `released_at`
    set, so the next delta CRL can say removeFromCRL (RFC 5280 §5.2.4)."""

    certificate = models.OneToOneField(
        "pki.IssuedCertificate", on_delete=models.PROTECT, related_name="revocation"
    )
    # Copied from the certificate so a CRL is one index scan of this table.
    ca = models.ForeignKey("pki.CertificateAuthority", on_delete=models.PROTECT, related_name="+")
    serial = models.CharField(max_length=64)
    not_after = models.DateTimeField()
    reason = models.CharField(max_length=24, choices=Reason.choices)
    revoked_at = models.DateTimeField()
    invalidity_date = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    # The revokedCertificates entry of a CRL, DER, encoded once when the row changes.
    entry = models.BinaryField()
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requester = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["ca", "released_at", "not_after"], name="revocation_crl"),
            models.Index(fields=["ca", "updated_at"], name="revocation_delta"),
        ]

    def __str__(self) -> str:
        return f"{self.serial} {self.reason}"


class CrlSeries(models.Model):
    """One per CA: the row locked while a CRL is built, and the CRL number. Complete and
    delta CRLs share one increasing sequence (RFC 5280 §5.2.3)."""

    ca = models.OneToOneField(
        "pki.CertificateAuthority", on_delete=models.PROTECT, related_name="crl_series"
    )
    last_number = models.PositiveBigIntegerField(default=0)
    last_full_number = models.PositiveBigIntegerField(null=True, blank=True)
    last_full_at = models.DateTimeField(null=True, blank=True)
    # Set when a revocation asked for a new CRL and a generation is queued (debounce); the
    # generation clears it before it reads (pki.services.crls).
    pending_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.ca} #{self.last_number}"


class Crl(models.Model):
    """A published CRL, complete or delta, as served at /crl/<ca>.crl (.delta.crl)."""

    ca = models.ForeignKey("pki.CertificateAuthority", on_delete=models.PROTECT, related_name="+")
    number = models.PositiveBigIntegerField()
    delta = models.BooleanField(default=False)
    base_number = models.PositiveBigIntegerField(null=True, blank=True)
    der = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    entries = models.PositiveIntegerField()
    this_update = models.DateTimeField()
    next_update = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ca", "number"], name="one_crl_number")]
        indexes = [models.Index(fields=["ca", "delta", "-number"], name="crl_latest")]

    def __str__(self) -> str:
        return f"{self.ca} {'delta ' if self.delta else ''}CRL #{self.number}"


class OcspResponder(models.Model):
    """A delegated OCSP signing certificate of a CA (RFC 6960 §4.2.2.2): id-kp-OCSPSigning,
    id-pkix-ocsp-nocheck, short-lived, its key in software, sealed with the KEK."""

    ca = models.ForeignKey(
        "pki.CertificateAuthority", on_delete=models.PROTECT, related_name="ocsp_responders"
    )
    key_algorithm = models.CharField(max_length=12)
    key_ref = models.TextField()
    certificate = models.BinaryField()
    serial = models.CharField(max_length=64)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-not_after"]

    def __str__(self) -> str:
        return f"OCSP responder {self.serial} of {self.ca}"


class OcspResponse(models.Model):
    """The signed answer for one certificate, ready before anyone asks: one per CertID hash
    algorithm clients use (SHA-1, SHA-256), the complete DER OCSPResponse."""

    ca = models.ForeignKey("pki.CertificateAuthority", on_delete=models.PROTECT, related_name="+")
    serial = models.CharField(max_length=64)
    status = models.CharField(max_length=8)  # good | revoked
    # What a response signed live (nonce requests) says, without another query.
    revoked_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=24, blank=True)
    # The certificate's: refreshed while it is valid; once it expired, not at all.
    not_after = models.DateTimeField(null=True, blank=True)
    sha1 = models.BinaryField()
    sha256 = models.BinaryField()
    this_update = models.DateTimeField()
    next_update = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ca", "serial"], name="one_ocsp_response")]

    def __str__(self) -> str:
        return f"OCSP {self.serial} {self.status}"
