"""The transition-window pattern (seed: "The transition window pattern"): a removal plan
for one CA with its dependencies, a window per consumer category, the communication
cadence as scheduled steps, verification, the removal through an approved
TrustListChange (two approvals), residual monitoring, completion, and one-step rollback.

Dates are computed from `now` (a parameter everywhere): announcement at `announce_at`,
removal at announce + the longest window among the categories of the affected consumers
(the shortest configured window when none is affected), reminders at T-90/60/30/14 days
(skipped when they would fall before the announcement), verification and removal at the
removal date, monitoring until removal + `monitor_days`, then completion.

Steps run in order (run_due): a step runs when it is due and every step before it is done
or skipped; a step that fails records its reason and blocks the steps after it until a
later run finds the reason gone. Running twice does nothing twice: each step is done once,
under the plan's row lock, so each notification is one outbox message."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from accounts.roles import Perm
from audit.services import record
from config.errors import Conflict
from pki import selectors
from pki.models import Domain, IssuedCertificate
from truststores.estate import changes
from truststores.estate.catalog import require, version_fingerprints
from truststores.estate.models import (
    Consumer,
    ConsumerCategory,
    RemovalPlan,
    RemovalStep,
    TrustedCA,
    TrustList,
    TrustListChange,
)
from truststores.estate.models.removal import default_windows
from truststores.estate.queries import who_trusts

Kind = RemovalStep.Kind
StepState = RemovalStep.State
PlanState = RemovalPlan.State

NOTIFY_DAYS: dict[str, int] = {Kind.NOTIFY_90: 90, Kind.NOTIFY_60: 60, Kind.NOTIFY_30: 30}
NOTIFY_DAYS[Kind.NOTIFY_14] = 14
# A distrust event (seed: Symantec, DigiNotar, Entrust) cannot wait a year: shorter windows.
DISTRUST_WINDOWS = {"os": 30, "application": 30, "infrastructure": 60, "embedded_third_party": 90}
MONITOR_DAYS = 30
MAX_WINDOW_DAYS = 3650
ACTIVE: tuple[str, ...] = (PlanState.DRAFT, PlanState.ANNOUNCED, PlanState.IN_PROGRESS)
ACTIVE += (PlanState.REMOVED, PlanState.MONITORING)
WAITING = "waiting for "
SAMPLE = 50  # names / serials kept in a plan's dependencies and step results


def check_windows(windows: dict[str, Any] | None, reason: str) -> dict[str, int]:
    base = DISTRUST_WINDOWS if reason == RemovalPlan.Reason.DISTRUST else default_windows()
    out = dict(base)
    for key, value in (windows or {}).items():
        if key not in ConsumerCategory.values:
            raise ValidationError({"windows": f"unknown category {key!r}"})
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError({"windows": f"{key}: a number of days"})
        if not 1 <= value <= MAX_WINDOW_DAYS:
            raise ValidationError({"windows": f"{key}: between 1 and {MAX_WINDOW_DAYS} days"})
        out[key] = value
    return out


def live_certificates(domain: Domain, ca: TrustedCA, now: datetime) -> QuerySet[IssuedCertificate]:
    """Ours, chaining to the CA, neither expired nor revoked: what verify_unused looks for."""
    found = selectors.certificates_chaining_to([domain.pk], ca.fingerprint)
    return found.filter(status=IssuedCertificate.Status.VALID, not_after__gt=now)


def reporting_the_ca(plan: RemovalPlan) -> QuerySet[Consumer]:
    """Consumers whose last report still holds the CA (after removal: residual trust)."""
    return who_trusts([plan.domain_id], plan.ca.fingerprint).by_report


def compute_dependencies(
    domain: Domain, ca: TrustedCA, lists: list[TrustList], now: datetime
) -> dict[str, Any]:
    answer = who_trusts([domain.pk], ca.fingerprint)
    list_ids = [t.pk for t in lists]
    by_list = Consumer.objects.filter(trust_list_id__in=list_ids)
    affected = (by_list | answer.by_report).distinct()
    categories: dict[str, int] = {}
    for category in affected.values_list("category", flat=True):
        categories[category] = categories.get(category, 0) + 1
    certificates = live_certificates(domain, ca, now).order_by("not_after")
    return {
        "checked_at": now.isoformat(),
        "certificates": {
            "count": certificates.count(),
            "sample": [
                {"serial": c.serial, "subject": c.subject, "not_after": c.not_after.isoformat()}
                for c in certificates[:SAMPLE]
            ],
        },
        "issuing_cas": [c.slug for c in answer.issuing_cas],
        "consumers_by_list": _names(by_list),
        "consumers_by_report": _names(answer.by_report),
        "affected": affected.count(),
        "categories": categories,
        "owner_teams": sorted({t for t in affected.values_list("owner_team", flat=True) if t})[
            :SAMPLE
        ],
    }


def _names(qs: QuerySet[Consumer]) -> dict[str, Any]:
    return {"count": qs.count(), "sample": list(qs.order_by("name").values("id", "name"))[:SAMPLE]}


def window_days(windows: dict[str, int], categories: dict[str, int]) -> int:
    affected = [windows[c] for c, n in categories.items() if n and c in windows]
    return max(affected) if affected else min(windows.values())


@transaction.atomic
def create_plan(
    domain: Domain,
    user: User,
    ca: TrustedCA,
    *,
    now: datetime,
    title: str = "",
    reason: str = RemovalPlan.Reason.PLANNED,
    description: str = "",
    windows: dict[str, Any] | None = None,
    announce_at: datetime | None = None,
    monitor_days: int = MONITOR_DAYS,
    trust_lists: list[TrustList] | None = None,
    replacement_cas: list[TrustedCA] | None = None,
) -> RemovalPlan:
    """A plan with its steps. A distrust event is announced at once (announce_at = now)."""
    require(user, Perm.ESTATE_MANAGE, domain)
    if ca.domain_id != domain.pk:
        raise ValidationError({"ca": "a CA of another domain"})
    if reason not in RemovalPlan.Reason.values:
        raise ValidationError({"reason": f"one of {', '.join(RemovalPlan.Reason.values)}"})
    if not 1 <= monitor_days <= 365:
        raise ValidationError({"monitor_days": "between 1 and 365 days"})
    checked = check_windows(windows, reason)
    replacements = replacement_cas or []
    if any(r.domain_id != domain.pk or r.pk == ca.pk for r in replacements):
        raise ValidationError({"replacement_cas": "other CAs of the same domain"})
    if RemovalPlan.objects.filter(domain=domain, ca=ca, state__in=ACTIVE).exists():
        raise Conflict(f"CA {ca.subject} already has an active removal plan", "plan_exists")
    lists = trust_lists
    if lists is None:  # every list of the domain holding the CA now
        lists = list(TrustList.objects.filter(domain=domain, current_version__entries__ca=ca))
    if any(t.domain_id != domain.pk for t in lists):
        raise ValidationError({"trust_lists": "lists of the plan's domain"})
    if not lists:
        raise ValidationError({"trust_lists": "no trust list holds this CA"})
    if reason == RemovalPlan.Reason.DISTRUST or announce_at is None or announce_at < now:
        announce_at = now
    deps = compute_dependencies(domain, ca, lists, now)
    remove_at = announce_at + timedelta(days=window_days(checked, deps["categories"]))
    plan = RemovalPlan.objects.create(
        domain=domain,
        title=(title.strip() or f"Remove {ca.subject}")[:200],
        ca=ca,
        reason=reason,
        description=description,
        windows=checked,
        dependencies=deps,
        announce_at=announce_at,
        remove_at=remove_at,
        monitoring_until=remove_at + timedelta(days=monitor_days),
        created_by=user,
    )
    plan.trust_lists.set(lists)
    plan.replacement_cas.set(replacements)
    RemovalStep.objects.bulk_create(schedule(plan))
    record(
        "estate.removal.created",
        actor=user,
        domain=domain,
        obj=plan,
        details={
            "ca": ca.fingerprint,
            "reason": reason,
            "trust_lists": sorted(t.slug for t in lists),
            "announce_at": announce_at.isoformat(),
            "remove_at": remove_at.isoformat(),
            "affected": deps["affected"],
            "certificates": deps["certificates"]["count"],
        },
    )
    return plan


def schedule(plan: RemovalPlan) -> list[RemovalStep]:
    """The steps in the order they run, with their due dates."""
    assert plan.announce_at and plan.remove_at and plan.monitoring_until
    steps = [RemovalStep(plan=plan, kind=Kind.ANNOUNCE, due_at=plan.announce_at)]
    for kind, days in NOTIFY_DAYS.items():
        due = plan.remove_at - timedelta(days=days)
        # A reminder that would come before the announcement is left out (seed: T-624d
        # announcement, then T-90d...; a 30-day distrust window has no T-90 reminder).
        state = StepState.SKIPPED if due < plan.announce_at else StepState.PENDING
        steps.append(RemovalStep(plan=plan, kind=kind, due_at=due, state=state))
    for kind in (Kind.VERIFY_UNUSED, Kind.VERIFY_REPORTS, Kind.REMOVE):
        steps.append(RemovalStep(plan=plan, kind=kind, due_at=plan.remove_at))
    steps.append(RemovalStep(plan=plan, kind=Kind.MONITOR, due_at=plan.monitoring_until))
    steps.append(RemovalStep(plan=plan, kind=Kind.COMPLETE, due_at=plan.monitoring_until))
    return steps


def ordered_steps(plan: RemovalPlan) -> list[RemovalStep]:
    order = {kind: i for i, kind in enumerate(Kind.values)}
    return sorted(plan.steps.all(), key=lambda s: order[s.kind])


def run_due(plan_id: int, now: datetime) -> list[RemovalStep]:
    """Run the plan's due steps in order; returns the steps that changed state."""
    # Imported here: the step bodies import this module's helpers.
    from truststores.estate.removal_steps import run_step

    changed: list[RemovalStep] = []
    with transaction.atomic():
        plan = (
            RemovalPlan.objects.select_for_update()
            .select_related("domain", "ca", "created_by")
            .get(pk=plan_id)
        )
        if plan.state not in ACTIVE:
            return changed
        for step in ordered_steps(plan):
            if step.state in (StepState.DONE, StepState.SKIPPED):
                continue
            if step.due_at > now:
                break
            problem = run_step(plan, step, now)
            previous = (step.state, step.result.get("reason"))
            if problem is None:
                step.state, step.done_at = StepState.DONE, now
                step.result = {**step.result, "reason": None}
            else:
                # Waiting for people (the removal's approvals) is not a failure.
                waiting = problem.startswith(WAITING)
                step.state = StepState.PENDING if waiting else StepState.FAILED
                step.result = {**step.result, "reason": problem}
            step.save(update_fields=["state", "done_at", "result"])
            if previous != (step.state, step.result.get("reason")):
                changed.append(step)
                record(
                    f"estate.removal.step_{step.state}",
                    domain=plan.domain,
                    obj=plan,
                    details={"step": step.kind, "due_at": step.due_at.isoformat(), **step.result},
                    # A failing verification is news for the plan's owner (webhooks).
                    publish=step.state == StepState.FAILED,
                )
            if problem is not None:
                break
    return changed


def due_plans(now: datetime) -> list[int]:
    steps = RemovalStep.objects.filter(
        Q(state=StepState.PENDING) | Q(state=StepState.FAILED),
        due_at__lte=now,
        plan__state__in=ACTIVE,
    )
    return sorted(set(steps.values_list("plan_id", flat=True)))


def run_all_due(now: datetime) -> dict[str, int]:
    """The beat task's body: every plan with a due step, each in its own transaction."""
    plans = due_plans(now)
    changed = sum(len(run_due(pk, now)) for pk in plans)
    return {"plans": len(plans), "changed": changed}


def set_state(plan: RemovalPlan, state: str, actor: User | None = None, **details: Any) -> None:
    if plan.state == state:
        return
    before, plan.state = plan.state, state
    plan.save(update_fields=["state", "updated_at"])
    record(
        "estate.removal.state_changed",
        actor=actor,
        domain=plan.domain,
        obj=plan,
        details={"from": before, "to": state, **details},
    )


@transaction.atomic
def rollback(plan: RemovalPlan, user: User, reason: str, now: datetime) -> RemovalPlan:
    """One step back (seed, phase 6): the CA back on every list of the plan that no longer
    holds it (changes.add_back, a new version equal in content to the one before the
    removal), pending removal changes cancelled, the plan rolled_back."""
    require(user, Perm.ESTATE_APPROVE, plan.domain)
    if not reason.strip():
        raise ValidationError({"reason": "a rollback needs a reason"})
    locked = RemovalPlan.objects.select_for_update().select_related("domain", "ca").get(pk=plan.pk)
    if locked.state not in (*ACTIVE, PlanState.COMPLETED):
        raise Conflict(f"removal plan #{plan.pk} is {locked.state}", "plan_state")
    restored: list[str] = []
    for trust_list in locked.trust_lists.select_related("current_version"):
        if locked.ca.fingerprint not in version_fingerprints(trust_list.current_version):
            held_before = trust_list.versions.filter(entries__ca=locked.ca).exists()
            if held_before:
                changes.add_back(
                    trust_list, [locked.ca], user, f"removal plan #{plan.pk}: {reason}"
                )
                restored.append(trust_list.slug)
    pending = TrustListChange.objects.filter(
        removal_plan=locked, state=TrustListChange.State.PENDING
    )
    for change in pending.select_related("proposed_by"):
        changes.cancel(change, change.proposed_by, f"removal plan #{plan.pk} rolled back")
    RemovalStep.objects.filter(plan=locked, state__in=[StepState.PENDING, StepState.FAILED]).update(
        state=StepState.SKIPPED, result={"reason": "rolled back"}
    )
    set_state(locked, PlanState.ROLLED_BACK, user, reason=reason, restored=restored)
    return locked


def stale_before(now: datetime) -> datetime:
    return now - timedelta(hours=settings.ANCHORAGE_ESTATE_STALE_HOURS)
