"""Running an approved request's action, exactly once."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from approvals import kinds
from approvals.models import ApprovalRequest
from approvals.services import approvals_count
from audit.services import record

logger = logging.getLogger(__name__)

_RUNNABLE = (ApprovalRequest.ActionState.QUEUED, ApprovalRequest.ActionState.FAILED)


@shared_task(name="approvals.tasks.run_action", ignore_result=True, acks_late=True)
def run_action(request_id: int) -> str:
    """Run the kind's action under the request's row lock; safe to deliver twice.

    The action and the DONE mark commit together: a worker that dies half way rolls both
    back and the redelivered task runs it again; a duplicate delivery finds DONE and stops.
    Quorum is checked again here, so a request approved by a path that skipped the engine
    (or whose approvers lost their permission since) does not run.
    """
    try:
        with transaction.atomic():
            request = (
                ApprovalRequest.objects.select_for_update()
                .select_related("domain")
                .filter(pk=request_id)
                .first()
            )
            if request is None:
                return "missing"
            if (
                request.state != ApprovalRequest.State.APPROVED
                or request.action_state not in _RUNNABLE
            ):
                return f"skipped ({request.state}/{request.action_state})"
            spec = kinds.get(request.kind)
            count = approvals_count(request)
            if count < request.required_approvals:
                raise PermissionError(f"quorum not met: {count} of {request.required_approvals}")
            result = spec.action(request) if spec.action else None
            request.action_state = ApprovalRequest.ActionState.DONE
            request.action_result = result or {}
            request.save(update_fields=["action_state", "action_result"])
            record(
                f"{spec.audit_prefix}.action_done",
                domain=request.domain,
                obj=request,
                details={"result": request.action_result},
            )
            return "done"
    except Exception as exc:
        logger.exception("approval action %s failed", request_id)
        _mark_failed(request_id, exc)
        return "failed"


@shared_task(name="approvals.tasks.requeue_stalled", ignore_result=True)
def requeue_stalled(older_than_seconds: int = 30) -> int:
    """Send run_action again for approved requests whose action never started (the broker
    was down at commit, or the message was lost). run_action is idempotent, so a request
    whose first message is merely slow is harmless to send twice."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stalled = list(
        ApprovalRequest.objects.filter(
            state=ApprovalRequest.State.APPROVED,
            action_state=ApprovalRequest.ActionState.QUEUED,
            decided_at__lt=cutoff,
        ).values_list("pk", flat=True)[:500]
    )
    for pk in stalled:
        run_action.delay(pk)
    if stalled:
        logger.warning("re-queued %d stalled approval actions", len(stalled))
    return len(stalled)


@transaction.atomic
def _mark_failed(request_id: int, exc: Exception) -> None:
    request = (
        ApprovalRequest.objects.select_for_update().select_related("domain").get(pk=request_id)
    )
    request.action_state = ApprovalRequest.ActionState.FAILED
    request.action_result = {"error": f"{type(exc).__name__}: {exc}"}
    request.save(update_fields=["action_state", "action_result"])
    spec = kinds.get(request.kind)
    if spec.on_failed is not None:
        spec.on_failed(request, request.action_result["error"])
    record(
        f"{kinds.get(request.kind).audit_prefix}.action_failed",
        domain=request.domain,
        obj=request,
        details=request.action_result,
    )
