"""Approval kinds used only by the tests.

The action writes an audit event, so a test counts how often it ran by counting rows. A
Celery worker started by a test imports this module too (`celery worker -I ...`), so the
worker knows the kinds.
"""

from __future__ import annotations

from typing import Any

from accounts.roles import Perm
from approvals import kinds
from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from audit.services import record

ACTION_RAN = "test.action.ran"


def _action(request: ApprovalRequest) -> dict[str, Any]:
    record(ACTION_RAN, domain=request.domain, obj=request, publish=False)
    if request.payload.get("fail"):
        raise RuntimeError("the action was asked to fail")
    return {"ran": request.subject_id}


TWO_PERSON = kinds.register(
    kinds.Kind(
        name="test.two_person",
        decide_permission=Perm.TRUSTSTORES_APPROVE,
        submit_permission=Perm.TRUSTSTORES_SUBMIT,
        audit_prefix="test.two_person",
        action=_action,
    )
)

CEREMONY = kinds.register(
    kinds.Kind(
        name="test.ceremony",
        decide_permission=Perm.CEREMONIES_APPROVE,
        submit_permission=Perm.CEREMONIES_PROPOSE,
        audit_prefix="test.ceremony",
        action=_action,
        default_approvals=2,
    )
)


def actions_ran(request: ApprovalRequest) -> int:
    """How many times the action of `request` has run (and committed)."""
    return AuditEvent.objects.filter(action=ACTION_RAN, object_id=str(request.pk)).count()
