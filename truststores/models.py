"""Truststore requests: a CA bundle for one of a domain's three truststores, decided through
the approval engine. The deployed bundle of a type is the latest request of that type in
state Ready (truststores.services.deployed)."""

from __future__ import annotations

from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class TruststoreType(models.TextChoices):
    MTLS = "mtls"
    EST = "est"
    PROVISIONING = "provisioning"


class TruststoreRequest(models.Model):
    # The spelling the API and DESIGN.md use.
    class State(models.TextChoices):
        PENDING = "Pending"
        APPROVED = "Approved"
        READY = "Ready"
        REJECTED = "Rejected"
        CANCELLED = "Cancelled"

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    truststore_type = models.CharField(max_length=12, choices=TruststoreType.choices)
    # PEM as submitted (PKCS#7 / DER converted to PEM); emptied on rejection.
    bundle = models.TextField(blank=True)
    certificate_count = models.PositiveIntegerField(default=0)
    validation_result = models.JSONField(default=dict)
    # Against the deployed bundle of the type at submit time.
    comparison = models.JSONField(default=dict)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approval = models.OneToOneField(
        "approvals.ApprovalRequest",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="truststore_request",
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["domain", "truststore_type", "state", "-ready_at"])]

    def __str__(self) -> str:
        return f"{self.truststore_type} truststore request #{self.pk} ({self.state})"

    @property
    def verdict(self) -> str:
        return str(self.validation_result.get("verdict", ""))


class DeploymentTarget(models.Model):
    """Where a domain's truststore of one type is deployed. The first kind is a file: the
    bundle is written atomically to `path`, then `reload_command` (a list of arguments, run
    without a shell) tells the server to read it again, e.g. ["nginx", "-s", "reload"]."""

    class Kind(models.TextChoices):
        FILE = "file"

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    truststore_type = models.CharField(max_length=12, choices=TruststoreType.choices)
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.FILE)
    path = models.CharField(max_length=1024)
    reload_command = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain", "truststore_type", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "truststore_type", "path"], name="truststore_target_path"
            )
        ]

    def __str__(self) -> str:
        return f"{self.truststore_type} target {self.path}"

    def clean(self) -> None:
        # The worker writes this file and runs this command as itself: say what is wrong
        # before a swap finds out.
        errors: dict[str, str] = {}
        path = PurePosixPath(self.path)
        if not path.is_absolute() or "\x00" in self.path or ".." in path.parts:
            errors["path"] = "an absolute path without '..', e.g. /etc/nginx/client-cas.pem"
        command = self.reload_command
        if not isinstance(command, list) or not all(
            isinstance(arg, str) and arg and "\x00" not in arg for arg in command
        ):
            errors["reload_command"] = (
                'a list of non-empty strings run without a shell, e.g. ["nginx", "-s", "reload"]'
                " (or [] for none)"
            )
        if errors:
            raise ValidationError(errors)


class Deployment(models.Model):
    """One request's bundle on one target: pending until the file is written and the reload
    command succeeded (done), or failed with the error."""

    class State(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    request = models.ForeignKey(
        TruststoreRequest, on_delete=models.CASCADE, related_name="deployments"
    )
    target = models.ForeignKey(DeploymentTarget, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(
        max_length=8, choices=State.choices, default=State.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["request", "target"]
        constraints = [
            models.UniqueConstraint(fields=["request", "target"], name="truststore_deployment_once")
        ]

    def __str__(self) -> str:
        return f"request #{self.request_id} on target #{self.target_id} ({self.state})"
