"""The transition-window pattern for removing a CA (the seed's six phases): a plan with its
dependencies, a window per consumer category, the communication cadence as scheduled steps,
verification, the removal (a TrustListChange naming the plan), residual monitoring and
rollback. The workflow services that move a plan along live beside these models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from pki.models import Domain


def default_windows() -> dict[str, int]:
    """Days of transition per consumer category (the seed's typical windows)."""
    return {"os": 90, "application": 90, "infrastructure": 180, "embedded_third_party": 365}


class RemovalPlan(models.Model):
    class Reason(models.TextChoices):
        PLANNED = "planned", "Planned removal (rotation, retirement)"
        DISTRUST = "distrust", "Distrust event"

    class State(models.TextChoices):
        DRAFT = "draft", "draft"
        ANNOUNCED = "announced", "announced"
        IN_PROGRESS = "in_progress", "in progress"
        REMOVED = "removed", "removed"
        MONITORING = "monitoring", "monitoring"
        COMPLETED = "completed", "completed"
        ROLLED_BACK = "rolled_back", "rolled back"
        CANCELLED = "cancelled", "cancelled"

    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    ca = models.ForeignKey(
        "estate.TrustedCA", on_delete=models.PROTECT, related_name="removal_plans"
    )
    trust_lists = models.ManyToManyField("estate.TrustList", related_name="removal_plans")
    # Alternatives the notifications point teams to.
    replacement_cas = models.ManyToManyField("estate.TrustedCA", blank=True, related_name="+")
    reason = models.CharField(max_length=10, choices=Reason.choices, default=Reason.PLANNED)
    description = models.TextField(blank=True)
    state = models.CharField(
        max_length=12, choices=State.choices, default=State.DRAFT, db_index=True
    )
    windows = models.JSONField(default=default_windows, blank=True)
    # The dependencies found when the plan was last checked (issued certificates chaining to
    # the CA, consumers trusting it), kept so the plan shows what it was decided on.
    dependencies = models.JSONField(default=dict, blank=True)
    announce_at = models.DateTimeField(null=True, blank=True)
    remove_at = models.DateTimeField(null=True, blank=True)
    monitoring_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"removal plan #{self.pk}: {self.title} ({self.state})"


class RemovalStep(models.Model):
    class Kind(models.TextChoices):
        ANNOUNCE = "announce", "Announce"
        NOTIFY_90 = "notify_90", "Reminder at T-90 days"
        NOTIFY_60 = "notify_60", "Escalation at T-60 days"
        NOTIFY_30 = "notify_30", "Escalation at T-30 days"
        NOTIFY_14 = "notify_14", "Final warning at T-14 days"
        VERIFY_UNUSED = "verify_unused", "Verify no certificate from the CA is in use"
        VERIFY_REPORTS = "verify_reports", "Verify consumers report the new state"
        REMOVE = "remove", "Remove"
        MONITOR = "monitor", "Residual monitoring"
        COMPLETE = "complete", "Complete"

    class State(models.TextChoices):
        PENDING = "pending", "pending"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        SKIPPED = "skipped", "skipped"

    plan = models.ForeignKey(RemovalPlan, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    due_at = models.DateTimeField()
    state = models.CharField(
        max_length=8, choices=State.choices, default=State.PENDING, db_index=True
    )
    done_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["plan", "due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["plan", "kind"], name="estate_step_once")]
        indexes = [models.Index(fields=["state", "due_at"])]

    def __str__(self) -> str:
        return f"{self.kind} of plan #{self.plan_id} ({self.state})"

    @property
    def domain(self) -> Domain:
        return self.plan.domain
