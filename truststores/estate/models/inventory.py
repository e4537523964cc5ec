"""The inventory (the seed's taxonomy: OS, application, infrastructure, embedded /
third-party), what each consumer last reported, and the drift found between that and the
authoritative list it should follow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models

if TYPE_CHECKING:
    from pki.models import Domain


class ConsumerKind(models.TextChoices):
    SERVICE = "service", "Service"
    HOST = "host", "Host"
    CONTAINER_IMAGE = "container_image", "Container image"
    JVM = "jvm", "JVM"
    LOAD_BALANCER = "load_balancer", "Load balancer"
    MESH = "mesh", "Service mesh"
    IDENTITY_BROKER = "identity_broker", "Identity broker"
    APPLIANCE = "appliance", "Vendor appliance"
    SAAS = "saas", "Third-party SaaS"


class ConsumerCategory(models.TextChoices):
    OS = "os", "OS-level"
    APPLICATION = "application", "Application"
    INFRASTRUCTURE = "infrastructure", "Infrastructure"
    EMBEDDED = "embedded_third_party", "Embedded / third-party"


class Distribution(models.TextChoices):
    OS_PACKAGE = "os_package", "OS package / update"
    CONFIG_MANAGEMENT = "config_management", "Configuration management"
    CONTAINER_BUILD = "container_build", "Container image build"
    APPLICATION_CONFIG = "application_config", "Application configuration"
    API_PUSH = "api_push", "Pushed through an API"
    VENDOR = "vendor", "Vendor-controlled"
    MANUAL = "manual", "Manual"


class ClientBase(models.TextChoices):
    # The seed: browser trust-program distrust events affect browser-facing services first.
    BROWSER = "browser", "Browsers"
    INTERNAL = "internal", "Internal clients"


class Consumer(models.Model):
    """One trust store in the estate and who owns it. The report token is random, shown
    once, and stored as its SHA-256 digest (truststores.estate.inventory.issue_token)."""

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=ConsumerKind.choices)
    category = models.CharField(max_length=24, choices=ConsumerCategory.choices)
    distribution = models.CharField(max_length=20, choices=Distribution.choices)
    owner_team = models.CharField(max_length=200, blank=True)
    client_base = models.CharField(
        max_length=8, choices=ClientBase.choices, default=ClientBase.INTERNAL
    )
    trust_list = models.ForeignKey(
        "estate.TrustList",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="consumers",
        help_text="the authoritative list this trust store should hold",
    )
    description = models.TextField(blank=True)
    token_digest = models.CharField(max_length=64, blank=True, editable=False)
    token_prefix = models.CharField(max_length=16, blank=True, editable=False)
    token_issued_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_report_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["domain", "name"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "name"], name="estate_consumer_name")
        ]
        indexes = [models.Index(fields=["trust_list", "id"])]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # The admin edits consumers too: a list of another domain is never followed.
        if self.trust_list is not None and self.trust_list.domain_id != self.domain_id:
            raise ValidationError({"trust_list": "a trust list of the consumer's own domain"})


class ObservedState(models.Model):
    """The latest report of a consumer: the SHA-256 fingerprints its trust store holds."""

    consumer = models.OneToOneField(Consumer, on_delete=models.CASCADE, related_name="observed")
    fingerprints = models.JSONField(default=list, help_text="sorted lower-case SHA-256 hex")
    reported_at = models.DateTimeField()
    reporter = models.CharField(max_length=100, blank=True, help_text="agent, ci, config-mgmt")

    class Meta:
        ordering = ["-reported_at"]

    def __str__(self) -> str:
        return f"{self.consumer.name}: {len(self.fingerprints)} CAs at {self.reported_at}"

    @property
    def domain(self) -> Domain:
        return self.consumer.domain


class DriftFinding(models.Model):
    """A difference between a consumer's report and its list's current version, open until
    the drift job no longer sees it. One open finding per (consumer, kind, fingerprint)."""

    class Kind(models.TextChoices):
        MISSING = "missing", "Missing (in the list, not reported)"
        EXTRA = "extra", "Extra (reported, not in the list)"
        STALE = "stale_report", "Stale or no report"

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    consumer = models.ForeignKey(Consumer, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    fingerprint = models.CharField(max_length=64, blank=True)
    version = models.ForeignKey(
        "estate.TrustListVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the list version compared against when last seen",
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["consumer", "kind", "fingerprint"],
                condition=models.Q(resolved_at__isnull=True),
                name="estate_one_open_finding",
            )
        ]
        indexes = [models.Index(fields=["domain", "kind", "resolved_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.fingerprint[:16]} on consumer #{self.consumer_id}"
