"""The approval engine's rules. Enforced here, not in views: every path (API, UI, admin,
management command, task) goes through these functions.

- the submitter never decides their own request;
- one person counts once (and the database refuses a second Decision row);
- only users holding the kind's permission in the request's domain (and, for ceremonies,
  named among the eligible users) decide;
- only the submitter cancels, and only while pending;
- each decision locks the request row, so two approvals racing to quorum run one action;
- reaching quorum queues the action as a Celery task on commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as UserModel
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.roles import Perm, has_perm
from approvals import kinds
from approvals.models import ApprovalRequest, Decision
from audit.services import record
from config.errors import Conflict, Forbidden, NotFound
from pki.models import Domain

User = UserModel | AnonymousUser


@transaction.atomic
def submit(
    *,
    kind: str,
    domain: Domain,
    subject_type: str,
    subject_id: str,
    submitter: UserModel,
    summary: str = "",
    payload: dict[str, Any] | None = None,
    required_approvals: int | None = None,
    eligible_users: Iterable[UserModel] = (),
) -> ApprovalRequest:
    spec = kinds.get(kind)
    if spec.submit_permission is not None and not has_perm(
        submitter, spec.submit_permission, domain
    ):
        raise Forbidden(f"you do not hold {spec.submit_permission.value} in domain {domain.slug}")
    m = spec.default_approvals if required_approvals is None else required_approvals
    named = list(eligible_users)
    if m < 1:
        raise ValidationError("at least one approval is required")
    if named:
        if submitter in named:
            raise ValidationError("the submitter cannot be one of the named approvers")
        if len({u.pk for u in named}) < m:
            raise ValidationError(f"{m} approvals need at least {m} distinct named approvers")
    request = ApprovalRequest.objects.create(
        kind=kind,
        domain=domain,
        subject_type=subject_type,
        subject_id=subject_id,
        summary=summary[:300],
        payload=payload or {},
        submitter=submitter,
        required_approvals=m,
        eligible_permission=spec.decide_permission.value,
    )
    if named:
        request.eligible_users.set(named)
    record(
        f"{spec.audit_prefix}.submitted",
        actor=submitter,
        domain=domain,
        obj=request,
        details={
            "kind": kind,
            "subject": f"{subject_type}:{subject_id}",
            "required_approvals": m,
            "eligible_users": [u.get_username() for u in named],
        },
    )
    return request


def approve(request_id: int, user: User, comment: str = "") -> ApprovalRequest:
    return _decide(request_id, user, Decision.Verdict.APPROVE, comment)


def reject(request_id: int, user: User, comment: str) -> ApprovalRequest:
    if not comment.strip():
        raise ValidationError("a rejection needs a reason")
    return _decide(request_id, user, Decision.Verdict.REJECT, comment)


@transaction.atomic
def cancel(request_id: int, user: User, reason: str = "") -> ApprovalRequest:
    request = _locked(request_id)
    if user.pk != request.submitter_id:
        raise Forbidden("only the submitter can cancel a request")
    if not request.is_pending:
        raise Conflict(f"the request is {request.state}, not pending", "not_pending")
    _finish(request, ApprovalRequest.State.CANCELLED, user, {"reason": reason})
    return request


def may_decide(request: ApprovalRequest, user: User) -> str | None:
    """Why `user` may not decide `request` now, or None when they may."""
    if not user.is_authenticated:
        return "not authenticated"
    if not request.is_pending:
        return f"the request is {request.state}, not pending"
    if user.pk == request.submitter_id:
        return "you submitted this request; someone else must decide it"
    if not has_perm(user, Perm(request.eligible_permission), request.domain):
        return f"you do not hold {request.eligible_permission} in domain {request.domain.slug}"
    named = request.eligible_users.all()
    if named.exists() and not named.filter(pk=user.pk).exists():
        return "you are not one of the named approvers of this request"
    if request.decisions.filter(approver_id=user.pk).exists():
        return "you have already decided this request"
    return None


def approvals_count(request: ApprovalRequest) -> int:
    """Distinct approvals that still count: eligible people other than the submitter."""
    approvers = request.decisions.filter(verdict=Decision.Verdict.APPROVE).exclude(
        approver_id=request.submitter_id
    )
    named = set(request.eligible_users.values_list("pk", flat=True))
    perm = Perm(request.eligible_permission)
    counted = {
        d.approver_id
        for d in approvers.select_related("approver")
        if (not named or d.approver_id in named) and has_perm(d.approver, perm, request.domain)
    }
    return len(counted)


@transaction.atomic
def _decide(request_id: int, user: User, verdict: str, comment: str) -> ApprovalRequest:
    request = _locked(request_id)
    reason = may_decide(request, user)
    if reason is not None:
        if not request.is_pending:
            raise Conflict(reason, "not_pending")
        if request.decisions.filter(approver_id=user.pk).exists():
            raise Conflict(reason, "already_decided")
        raise Forbidden(reason)
    assert isinstance(user, UserModel)  # may_decide refused anonymous users
    Decision.objects.create(request=request, approver=user, verdict=verdict, comment=comment)
    spec = kinds.get(request.kind)
    if verdict == Decision.Verdict.REJECT:
        _finish(request, ApprovalRequest.State.REJECTED, user, {"comment": comment})
        return request
    count = approvals_count(request)
    record(
        f"{spec.audit_prefix}.approval_recorded",
        actor=user,
        domain=request.domain,
        obj=request,
        details={"approvals": count, "required": request.required_approvals, "comment": comment},
    )
    if count >= request.required_approvals:
        request.action_state = (
            ApprovalRequest.ActionState.QUEUED if spec.action else ApprovalRequest.ActionState.NONE
        )
        _finish(request, ApprovalRequest.State.APPROVED, user, {"approvals": count})
        if spec.action is not None:
            from approvals.tasks import run_action

            pk = request.pk
            # robust: a broker that is down must not turn a committed approval into a 500;
            # approvals.tasks.requeue_stalled sends it again.
            transaction.on_commit(lambda: run_action.delay(pk), robust=True)
    return request


def _finish(request: ApprovalRequest, state: str, actor: User, details: dict[str, Any]) -> None:
    spec = kinds.get(request.kind)
    request.state = state
    request.decided_at = timezone.now()
    request.save(update_fields=["state", "decided_at", "action_state"])
    if spec.on_final is not None:
        spec.on_final(request)
    record(
        f"{spec.audit_prefix}.{state}",
        actor=actor,
        domain=request.domain,
        obj=request,
        details={"kind": request.kind, **details},
    )


def _locked(request_id: int) -> ApprovalRequest:
    try:
        return (
            ApprovalRequest.objects.select_for_update().select_related("domain").get(pk=request_id)
        )
    except (ApprovalRequest.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"no approval request {request_id!r}") from None
