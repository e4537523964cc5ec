"""One approval engine for every kind of request: truststore swaps, key ceremonies,
certificate requests. The rules live in approvals.services; these are the records."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApprovalRequest(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        CANCELLED = "cancelled"

    class ActionState(models.TextChoices):
        NONE = "none", "not started"
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    kind = models.CharField(max_length=50, db_index=True, help_text="registered in approvals.kinds")
    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    # The thing to be approved, named loosely: the kind's own app owns it.
    subject_type = models.CharField(max_length=100)
    subject_id = models.CharField(max_length=100)
    summary = models.CharField(max_length=300, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    required_approvals = models.PositiveSmallIntegerField(default=1)
    eligible_permission = models.CharField(
        max_length=50, help_text="a named permission (accounts.roles.Perm)"
    )
    # Named deciders (key custodians); empty means anyone holding the permission.
    eligible_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    action_state = models.CharField(
        max_length=10, choices=ActionState.choices, default=ActionState.NONE
    )
    action_result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"

    @property
    def is_pending(self) -> bool:
        return self.state == self.State.PENDING


class Decision(models.Model):
    class Verdict(models.TextChoices):
        APPROVE = "approve"
        REJECT = "reject"

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    verdict = models.CharField(max_length=7, choices=Verdict.choices)
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["decided_at"]
        # One person counts once, enforced by the database too.
        constraints = [
            models.UniqueConstraint(fields=["request", "approver"], name="one_decision_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.approver} {self.verdict}s #{self.request_id}"
