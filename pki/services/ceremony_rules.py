"""The quorum rule every ceremony-gated operation checks for itself."""

from __future__ import annotations

from approvals.models import ApprovalRequest
from approvals.services import approvals_count
from config.errors import Conflict, Forbidden
from pki.models import Ceremony

SECRET_PURPOSE = "pki.ceremony-secret"  # noqa: S105 (a sealing purpose label, not a secret)


class QuorumNotMet(Forbidden):
    pass


def require_quorum(ceremony: Ceremony) -> None:
    """Raise unless `ceremony` has m distinct custodian approvals and has not yet run.

    Counted from the Decision rows each time (approvals.services.approvals_count: named
    custodians who still hold ceremonies.approve, never the proposer), not from a flag a
    different code path could have set.
    """
    if ceremony.state == Ceremony.State.DONE:
        raise Conflict(f"ceremony #{ceremony.pk} has already run", "already_done")
    if ceremony.state in (Ceremony.State.REJECTED, Ceremony.State.CANCELLED):
        raise Conflict(f"ceremony #{ceremony.pk} was {ceremony.state}", "not_pending")
    approval = ceremony.approval
    count = approvals_count(approval)
    if approval.state != ApprovalRequest.State.APPROVED or count < ceremony.threshold:
        raise QuorumNotMet(
            f"ceremony #{ceremony.pk} has {count} of {ceremony.threshold} custodian approvals"
        )
