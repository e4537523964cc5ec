"""Changes to an authoritative trust list, through the approval engine (the seed's
asymmetric risk): adding CAs takes one approval; removing CAs takes two and must name a
removal plan for those CAs. The engine's rules hold on every path: never the proposer,
one person counts once, only holders of estate.approve in the list's domain.

Approval applies the change in the deciding transaction (on_final, under the engine's row
lock and the list's): the next version is the list's current set plus or minus the
change's CAs, so two changes approved one after the other both take effect. Rollback and
add-back are the emergency paths of a removal's residual monitoring (seed, phase 6):
immediate, by a holder of estate.approve, audited."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.roles import Perm
from approvals import kinds
from approvals import services as approvals
from approvals.models import ApprovalRequest
from audit.services import record
from config.errors import Conflict
from truststores.estate.catalog import new_version, require, version_fingerprints
from truststores.estate.models import (
    RemovalPlan,
    TrustedCA,
    TrustList,
    TrustListChange,
    TrustListEntry,
    TrustListVersion,
)

KIND = "estate.trust_list_change"
SUBJECT_TYPE = "estate.trustlistchange"
REMOVAL_APPROVALS = 2
# A removal may be proposed once the plan has been announced, and not after it ended.
PLAN_STATES_FOR_REMOVAL = {RemovalPlan.State.ANNOUNCED, RemovalPlan.State.IN_PROGRESS}


@transaction.atomic
def propose_add(
    trust_list: TrustList, cas: list[TrustedCA], user: User, reason: str = ""
) -> TrustListChange:
    current = version_fingerprints(trust_list.current_version)
    if all(ca.fingerprint in current for ca in cas):
        raise ValidationError("every CA named is already on the list")
    return _propose(trust_list, TrustListChange.Action.ADD, cas, user, reason, None, 1)


@transaction.atomic
def propose_remove(
    trust_list: TrustList,
    cas: list[TrustedCA],
    user: User,
    plan: RemovalPlan | None,
    reason: str = "",
) -> TrustListChange:
    if plan is None:
        raise ValidationError("removing a CA needs a removal plan")
    if plan.domain_id != trust_list.domain_id:
        raise ValidationError("the removal plan belongs to another domain")
    if plan.state not in PLAN_STATES_FOR_REMOVAL:
        raise Conflict(
            f"removal plan #{plan.pk} is {plan.state}; a removal needs an announced plan",
            "plan_state",
        )
    if not plan.trust_lists.filter(pk=trust_list.pk).exists():
        raise ValidationError(f"removal plan #{plan.pk} does not cover list {trust_list.slug}")
    if {ca.pk for ca in cas} != {plan.ca_id}:
        raise ValidationError(f"removal plan #{plan.pk} removes exactly one CA: its own")
    current = version_fingerprints(trust_list.current_version)
    if not any(ca.fingerprint in current for ca in cas):
        raise ValidationError("none of the CAs named is on the list")
    return _propose(
        trust_list, TrustListChange.Action.REMOVE, cas, user, reason, plan, REMOVAL_APPROVALS
    )


def _propose(
    trust_list: TrustList,
    action: str,
    cas: list[TrustedCA],
    user: User,
    reason: str,
    plan: RemovalPlan | None,
    required: int,
) -> TrustListChange:
    domain = trust_list.domain
    require(user, Perm.ESTATE_MANAGE, domain)
    if not cas:
        raise ValidationError("name at least one CA")
    if any(ca.domain_id != domain.pk for ca in cas):
        raise ValidationError("a CA of another domain")
    change = TrustListChange.objects.create(
        domain=domain,
        trust_list=trust_list,
        action=action,
        base_version=trust_list.current_version,
        removal_plan=plan,
        reason=reason,
        proposed_by=user,
    )
    change.cas.set(cas)
    names = ", ".join(ca.subject for ca in cas[:3]) + (" …" if len(cas) > 3 else "")
    change.approval = approvals.submit(
        kind=KIND,
        domain=domain,
        subject_type=SUBJECT_TYPE,
        subject_id=str(change.pk),
        submitter=user,
        summary=f"{action} {len(cas)} CA(s) on {trust_list.slug}: {names}",
        payload={
            "action": action,
            "trust_list": trust_list.slug,
            "fingerprints": [ca.fingerprint for ca in cas],
            "removal_plan": plan.pk if plan else None,
        },
        required_approvals=required,
    )
    change.save(update_fields=["approval"])
    return change


def approve(change: TrustListChange, user: User, comment: str = "") -> TrustListChange:
    approvals.approve(_approval_id(change), user, comment)
    change.refresh_from_db()
    return change


def reject(change: TrustListChange, user: User, comment: str) -> TrustListChange:
    approvals.reject(_approval_id(change), user, comment)
    change.refresh_from_db()
    return change


def cancel(change: TrustListChange, user: User, reason: str = "") -> TrustListChange:
    approvals.cancel(_approval_id(change), user, reason)
    change.refresh_from_db()
    return change


def _approval_id(change: TrustListChange) -> int:
    if change.approval_id is None:
        raise Conflict(f"change #{change.pk} has no approval request", "no_approval")
    return change.approval_id


def _on_final(approval: ApprovalRequest) -> None:
    change = TrustListChange.objects.select_for_update().get(approval=approval)
    states: dict[str, str] = {
        ApprovalRequest.State.APPROVED: TrustListChange.State.APPLIED,
        ApprovalRequest.State.REJECTED: TrustListChange.State.REJECTED,
        ApprovalRequest.State.CANCELLED: TrustListChange.State.CANCELLED,
    }
    target = states.get(approval.state)
    if target is None:
        return
    change.state = target
    change.decided_at = approval.decided_at or timezone.now()
    change.save(update_fields=["state", "decided_at"])
    if target == TrustListChange.State.APPLIED:
        _apply(change)


def _apply(change: TrustListChange) -> TrustListVersion:
    trust_list = TrustList.objects.select_for_update().get(pk=change.trust_list_id)
    current = trust_list.current_version
    held = {
        e.ca_id: e.ca for e in TrustListEntry.objects.filter(version=current).select_related("ca")
    }
    named = {ca.pk: ca for ca in change.cas.all()}
    if change.action == TrustListChange.Action.ADD:
        result = {**held, **named}
    else:
        result = {pk: ca for pk, ca in held.items() if pk not in named}
    version = new_version(
        trust_list,
        result.values(),
        change.proposed_by,
        note=f"{change.action} change #{change.pk}",
        change_id=change.pk,
    )
    plan = change.removal_plan
    if plan is not None and plan.state in PLAN_STATES_FOR_REMOVAL:
        plan.state = RemovalPlan.State.REMOVED
        plan.save(update_fields=["state", "updated_at"])
    record(
        "estate.trust_list.version_created",
        domain=trust_list.domain,
        obj=version,
        details={
            "trust_list": trust_list.slug,
            "number": version.number,
            "change": change.pk,
            "action": change.action,
            "fingerprints": sorted(ca.fingerprint for ca in named.values()),
            "removal_plan": plan.pk if plan else None,
        },
    )
    return version


@transaction.atomic
def rollback(
    trust_list: TrustList, to_version: TrustListVersion, user: User, reason: str
) -> TrustListVersion:
    """A new version holding exactly the CAs of an older one (history is never rewritten)."""
    require(user, Perm.ESTATE_APPROVE, trust_list.domain)
    if to_version.trust_list_id != trust_list.pk:
        raise ValidationError("that version belongs to another list")
    if not reason.strip():
        raise ValidationError("a rollback needs a reason")
    locked = TrustList.objects.select_for_update().select_related("domain").get(pk=trust_list.pk)
    if locked.current_version_id == to_version.pk:
        raise Conflict(f"v{to_version.number} is already the current version", "current")
    cas = list(to_version.cas.all())
    version = new_version(
        locked,
        cas,
        user,
        note=f"rollback to v{to_version.number}: {reason}",
        restored_from=to_version,
    )
    record(
        "estate.trust_list.rolled_back",
        actor=user,
        domain=locked.domain,
        obj=version,
        details={
            "trust_list": locked.slug,
            "number": version.number,
            "restored_from": to_version.number,
            "reason": reason,
        },
    )
    trust_list.refresh_from_db()
    return version


@transaction.atomic
def add_back(
    trust_list: TrustList, cas: list[TrustedCA], user: User, reason: str
) -> TrustListVersion:
    """Put removed CAs back at once (a removal's residual failure, seed phase 6). Only CAs
    an earlier version of this list held: anything new goes through an approved change."""
    require(user, Perm.ESTATE_APPROVE, trust_list.domain)
    if not reason.strip():
        raise ValidationError("adding a CA back needs a reason")
    locked = TrustList.objects.select_for_update().select_related("domain").get(pk=trust_list.pk)
    earlier = set(
        TrustListEntry.objects.filter(version__trust_list=locked).values_list("ca_id", flat=True)
    )
    if not cas or any(ca.pk not in earlier for ca in cas):
        raise ValidationError("only CAs this list held before can be added back")
    held = list(locked.current_version.cas.all()) if locked.current_version else []
    version = new_version(locked, [*held, *cas], user, note=f"added back: {reason}")
    record(
        "estate.trust_list.added_back",
        actor=user,
        domain=locked.domain,
        obj=version,
        details={
            "trust_list": locked.slug,
            "number": version.number,
            "fingerprints": sorted(ca.fingerprint for ca in cas),
            "reason": reason,
        },
    )
    trust_list.refresh_from_db()
    return version


def register_kind() -> None:
    kinds.register(
        kinds.Kind(
            name=KIND,
            decide_permission=Perm.ESTATE_APPROVE,
            submit_permission=Perm.ESTATE_MANAGE,
            audit_prefix=KIND,
            on_final=_on_final,
        )
    )
