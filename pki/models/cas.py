"""Certificate authorities and the key ceremonies that create and change them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CertificateAuthority(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        SUPERSEDED = "superseded"
        RETIRED = "retired"

    class Kind(models.TextChoices):
        ROOT = "root"
        INTERMEDIATE = "intermediate"
        IMPORTED = "imported"
        UPSTREAM = "upstream", "upstream (AWS Private CA)"

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="cas")
    # Globally unique: /crl/<ca>.crl and /ocsp/<ca>/ carry no domain.
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    superseded_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="supersedes"
    )
    key_backend = models.CharField(max_length=50, blank=True, help_text="alias in settings")
    # The backend's reference: sealed ciphertext (software), a token object id, a KMS key id.
    key_ref = models.TextField(blank=True)
    key_algorithm = models.CharField(max_length=12, blank=True)
    certificate = models.BinaryField()
    # The CA's own chain above it when it was imported or is upstream (DER, issuer first).
    external_chain = models.JSONField(default=list, blank=True)
    upstream = models.JSONField(default=dict, blank=True, help_text="upstream driver settings")
    serial = models.CharField(max_length=64)
    subject = models.CharField(max_length=500)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    fingerprint = models.CharField(max_length=64)
    path_length = models.PositiveSmallIntegerField(null=True, blank=True)
    name_constraints = models.JSONField(default=dict, blank=True)
    ceremony = models.ForeignKey(
        "pki.Ceremony", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain__slug", "created_at"]
        verbose_name = "certificate authority"
        verbose_name_plural = "certificate authorities"

    def __str__(self) -> str:
        return self.slug


class CrossCertificate(models.Model):
    """A certificate for `subject_ca`'s key and name, signed by `issuer_ca`: a second path
    from clients that trust the issuer's hierarchy to everything `subject_ca` issued."""

    subject_ca = models.ForeignKey(
        CertificateAuthority, on_delete=models.PROTECT, related_name="cross_certificates"
    )
    issuer_ca = models.ForeignKey(CertificateAuthority, on_delete=models.PROTECT, related_name="+")
    certificate = models.BinaryField()
    serial = models.CharField(max_length=64)
    not_after = models.DateTimeField()
    ceremony = models.ForeignKey("pki.Ceremony", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.subject_ca} cross-signed by {self.issuer_ca}"


class Ceremony(models.Model):
    """An m-of-n key ceremony: a CA operation that runs only after m named custodians approve.

    The approvals are an approvals.ApprovalRequest of kind "pki.ceremony"; the operation's
    parameters sit here, secrets among them (an imported key) sealed with the KEK.
    """

    class Operation(models.TextChoices):
        CREATE_ROOT = "create_root"
        CREATE_INTERMEDIATE = "create_intermediate"
        ROTATE = "rotate"
        CROSS_SIGN = "cross_sign"
        IMPORT = "import"

    class State(models.TextChoices):
        PENDING = "pending", "collecting approvals"
        APPROVED = "approved", "quorum reached"
        DONE = "done"
        FAILED = "failed"
        REJECTED = "rejected"
        CANCELLED = "cancelled"

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="ceremonies")
    operation = models.CharField(max_length=20, choices=Operation.choices)
    purpose = models.CharField(max_length=300)
    params = models.JSONField(default=dict, blank=True)
    sealed_secret = models.BinaryField(null=True, blank=True)
    threshold = models.PositiveSmallIntegerField()
    approval = models.OneToOneField(
        "approvals.ApprovalRequest", on_delete=models.PROTECT, related_name="ceremony"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"ceremony #{self.pk} {self.operation} ({self.state})"
