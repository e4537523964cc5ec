"""What each step of a removal plan does when it runs (truststores.estate.removal.run_due
calls run_step under the plan's row lock). A step returns None when done, or the reason it
cannot be done yet; notifications are audit events published to the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError

from audit.services import record
from config.errors import Conflict, reason_of
from truststores.estate import changes
from truststores.estate.catalog import version_fingerprints
from truststores.estate.models import (
    Consumer,
    ObservedState,
    RemovalPlan,
    RemovalStep,
    TrustListChange,
)
from truststores.estate.removal import (
    NOTIFY_DAYS,
    SAMPLE,
    Kind,
    PlanState,
    compute_dependencies,
    live_certificates,
    reporting_the_ca,
    set_state,
    stale_before,
)

LABELS: dict[str, str] = {
    Kind.ANNOUNCE: "announcement",
    Kind.NOTIFY_90: "reminder",
    Kind.NOTIFY_60: "escalation",
    Kind.NOTIFY_30: "escalation",
    Kind.NOTIFY_14: "final warning",
}


def run_step(plan: RemovalPlan, step: RemovalStep, now: datetime) -> str | None:
    runners: dict[str, Callable[[RemovalPlan, RemovalStep, datetime], str | None]] = {
        Kind.ANNOUNCE: _notify,
        Kind.NOTIFY_90: _notify,
        Kind.NOTIFY_60: _notify,
        Kind.NOTIFY_30: _notify,
        Kind.NOTIFY_14: _notify,
        Kind.VERIFY_UNUSED: _verify_unused,
        Kind.VERIFY_REPORTS: _verify_reports,
        Kind.REMOVE: _remove,
        Kind.MONITOR: _monitor,
        Kind.COMPLETE: _complete,
    }
    return runners[step.kind](plan, step, now)


def _notify(plan: RemovalPlan, step: RemovalStep, now: datetime) -> None:
    """One outbox message per notification: the step is marked done in the same
    transaction, so a second run (or a retried task) finds nothing to send."""
    deps = compute_dependencies(plan.domain, plan.ca, list(plan.trust_lists.all()), now)
    plan.dependencies = deps
    plan.save(update_fields=["dependencies", "updated_at"])
    assert plan.remove_at is not None
    details: dict[str, Any] = {
        "plan": plan.pk,
        "title": plan.title,
        "kind": LABELS[step.kind],
        "step": step.kind,
        "reason": plan.reason,
        "ca": {"fingerprint": plan.ca.fingerprint, "subject": plan.ca.subject},
        "remove_at": plan.remove_at.isoformat(),
        "days_left": NOTIFY_DAYS.get(step.kind, (plan.remove_at - now).days),
        "replacements": [
            {"fingerprint": r.fingerprint, "subject": r.subject} for r in plan.replacement_cas.all()
        ],
        "owner_teams": deps["owner_teams"],
        "affected_consumers": deps["affected"],
        "certificates": deps["certificates"]["count"],
    }
    action = "estate.removal.announced" if step.kind == Kind.ANNOUNCE else "estate.removal.notice"
    record(action, domain=plan.domain, obj=plan, details=details)
    step.result = {"sent_at": now.isoformat(), "affected": deps["affected"]}
    if step.kind == Kind.ANNOUNCE:
        set_state(plan, PlanState.ANNOUNCED)
    else:
        set_state(plan, PlanState.IN_PROGRESS)
    return None


def _verify_unused(plan: RemovalPlan, step: RemovalStep, now: datetime) -> str | None:
    """Seed, phase 4: no unexpired, unrevoked certificate of ours chains to the CA."""
    live = live_certificates(plan.domain, plan.ca, now).order_by("not_after")
    count = live.count()
    step.result = {"certificates": count, "serials": list(live.values_list("serial", flat=True))}
    step.result["serials"] = step.result["serials"][:SAMPLE]
    if count:
        return f"{count} certificate(s) of ours still chain to the CA and are valid"
    return None


def _affected(plan: RemovalPlan) -> list[Consumer]:
    by_list = Consumer.objects.filter(trust_list__in=plan.trust_lists.all())
    return list((by_list | reporting_the_ca(plan)).distinct().order_by("name"))


def _verify_reports(plan: RemovalPlan, step: RemovalStep, now: datetime) -> str | None:
    """Before the removal: every affected consumer has a recent report and, when the plan
    names replacements, reports holding them (it is ready for the new state)."""
    consumers = _affected(plan)
    wanted = set(plan.replacement_cas.values_list("fingerprint", flat=True))
    reports = dict(
        ObservedState.objects.filter(consumer__in=consumers).values_list(
            "consumer_id", "fingerprints"
        )
    )
    fresh_after = stale_before(now)
    silent = [
        c.name for c in consumers if c.last_report_at is None or c.last_report_at < fresh_after
    ]
    unready = [c.name for c in consumers if not wanted <= set(reports.get(c.pk, []))]
    step.result = {
        "consumers": len(consumers),
        "silent": silent[:SAMPLE],
        "without_replacement": unready[:SAMPLE],
    }
    problems = []
    if silent:
        problems.append(f"{len(silent)} consumer(s) have no recent report")
    if wanted and unready:
        problems.append(f"{len(unready)} consumer(s) do not report the replacement CA(s)")
    return "; ".join(problems) or None


def _remove(plan: RemovalPlan, step: RemovalStep, now: datetime) -> str | None:
    """Propose the removal on each list still holding the CA (two approvals, through the
    approvals queue); done once no list of the plan holds it."""
    holding = [
        t
        for t in plan.trust_lists.select_related("current_version")
        if plan.ca.fingerprint in version_fingerprints(t.current_version)
    ]
    proposed: list[int] = list(step.result.get("changes", []))
    waiting: list[str] = []
    for trust_list in holding:
        latest = (
            TrustListChange.objects.filter(
                removal_plan=plan, trust_list=trust_list, action=TrustListChange.Action.REMOVE
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if latest is not None and latest.state in (
            TrustListChange.State.REJECTED,
            TrustListChange.State.CANCELLED,
        ):
            step.result = {**step.result, "changes": proposed}
            return f"removal change #{latest.pk} on {trust_list.slug} was {latest.state}"
        if latest is None or latest.state != TrustListChange.State.PENDING:
            try:
                change = changes.propose_remove(
                    trust_list, [plan.ca], plan.created_by, plan, f"removal plan #{plan.pk}"
                )
            except (PermissionDenied, ValidationError, Conflict) as exc:
                return f"cannot propose the removal on {trust_list.slug}: {reason_of(exc)}"
            proposed.append(change.pk)
        waiting.append(trust_list.slug)
    step.result = {**step.result, "changes": proposed, "waiting_for": waiting}
    if waiting:
        return f"waiting for two approvals of the removal on {', '.join(waiting)}"
    set_state(plan, PlanState.MONITORING)
    return None


def _monitor(plan: RemovalPlan, step: RemovalStep, now: datetime) -> str | None:
    """Seed, phase 6: at the end of the residual window, nobody still reports the CA."""
    still = list(reporting_the_ca(plan).values_list("name", flat=True))
    step.result = {"still_reporting": still[:SAMPLE], "count": len(still)}
    if still:
        return f"{len(still)} consumer(s) still report the CA (drift): add it back or fix them"
    return None


def _complete(plan: RemovalPlan, step: RemovalStep, now: datetime) -> str | None:
    """The plan ends only with no dependency left: a certificate issued during monitoring
    or a consumer reporting the CA again blocks it."""
    problems = [
        p for p in (_verify_unused(plan, step, now), _monitor(plan, step, now)) if p is not None
    ]
    if problems:
        return "; ".join(problems)
    plan.dependencies = compute_dependencies(
        plan.domain, plan.ca, list(plan.trust_lists.all()), now
    )
    plan.save(update_fields=["dependencies", "updated_at"])
    set_state(plan, PlanState.COMPLETED)
    return None
