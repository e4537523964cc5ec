"""Authoritative trust lists: one per domain and trust scope (or several, by name), each a
chain of immutable versions. A version is the set of CA certificates consumers following
the list should trust; it changes only through an approved TrustListChange or a rollback
(truststores.estate.changes), never by editing a version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from pki.models import Domain


class TrustScope(models.TextChoices):
    PUBLIC = "public", "public-internet-facing"
    INTERNAL = "internal", "internal services"
    FEDERATED = "federated", "federated partners"
    CODE_SIGNING = "code_signing", "code signing"


class TrustedCA(models.Model):
    """A CA certificate known to a domain's estate, stored once and shared by the versions
    and changes that name it. Facts are read at import (pki.crypto), never re-parsed."""

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the DER, lower-case hex")
    der = models.BinaryField()
    subject = models.CharField(max_length=500)
    issuer = models.CharField(max_length=500, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField()
    self_signed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["subject", "fingerprint"]
        verbose_name = "trusted CA"
        constraints = [
            models.UniqueConstraint(fields=["domain", "fingerprint"], name="estate_ca_once")
        ]
        indexes = [models.Index(fields=["fingerprint"])]

    def __str__(self) -> str:
        return f"{self.subject} ({self.fingerprint[:16]})"


class TrustList(models.Model):
    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    scope = models.CharField(max_length=16, choices=TrustScope.choices)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True)
    # The version consumers should hold now; null until the first version exists.
    current_version = models.ForeignKey(
        "estate.TrustListVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain", "scope", "slug"]
        constraints = [models.UniqueConstraint(fields=["domain", "slug"], name="estate_list_slug")]

    def __str__(self) -> str:
        return f"{self.slug} ({self.get_scope_display()})"


class TrustListVersion(models.Model):
    trust_list = models.ForeignKey(TrustList, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    cas: models.ManyToManyField[TrustedCA, TrustListEntry] = models.ManyToManyField(
        TrustedCA, through="TrustListEntry", related_name="versions"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The approved change that made this version; null for the first one and for rollbacks.
    change = models.OneToOneField(
        "estate.TrustListChange",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="result_version",
    )
    # A rollback names the version it restored.
    restored_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trust_list", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["trust_list", "number"], name="estate_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.trust_list.slug} v{self.number}"

    @property
    def domain(self) -> Domain:  # for the audited admin and DomainPermission
        return self.trust_list.domain


class TrustListEntry(models.Model):
    version = models.ForeignKey(TrustListVersion, on_delete=models.CASCADE, related_name="entries")
    ca = models.ForeignKey(TrustedCA, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["version", "ca"]
        verbose_name_plural = "trust list entries"
        constraints = [models.UniqueConstraint(fields=["version", "ca"], name="estate_entry_once")]

    def __str__(self) -> str:
        return f"{self.version}: {self.ca.fingerprint[:16]}"


class TrustListChange(models.Model):
    """A proposed addition or removal of CAs, decided through the approval engine: an
    addition takes one approval, a removal two and a removal plan (the seed's asymmetric
    risk). Approval makes the next version in the deciding transaction."""

    class Action(models.TextChoices):
        ADD = "add"
        REMOVE = "remove"

    class State(models.TextChoices):
        PENDING = "pending"
        APPLIED = "applied"
        REJECTED = "rejected"
        CANCELLED = "cancelled"

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    trust_list = models.ForeignKey(TrustList, on_delete=models.PROTECT, related_name="changes")
    action = models.CharField(max_length=6, choices=Action.choices)
    cas = models.ManyToManyField(TrustedCA, related_name="changes")
    base_version = models.ForeignKey(
        TrustListVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    removal_plan = models.ForeignKey(
        "estate.RemovalPlan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="changes",
    )
    reason = models.TextField(blank=True)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    approval = models.OneToOneField(
        "approvals.ApprovalRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="trust_list_change",
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} on {self.trust_list.slug} #{self.pk} ({self.state})"
