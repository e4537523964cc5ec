"""The approval engine's rules, enforced in approvals.services and approvals.tasks."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.roles import Role, grant_role, revoke_role
from approvals import services
from approvals.models import ApprovalRequest, Decision
from approvals.tasks import requeue_stalled, run_action
from audit.models import AuditEvent
from config.errors import Conflict, Forbidden, NotFound
from tests.approvals.testkind import CEREMONY, actions_ran

pytestmark = pytest.mark.django_db

State = ApprovalRequest.State
ActionState = ApprovalRequest.ActionState


def events(request: ApprovalRequest) -> list[str]:
    # In write order: nothing seals the chain here (no worker), so seq is still null.
    return list(
        AuditEvent.objects.filter(
            object_id=str(request.pk), object_type="approvals.approvalrequest"
        )
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_submit_records_a_pending_request(submit, people):
    request = submit(m=2)

    assert request.state == State.PENDING
    assert request.required_approvals == 2
    assert request.eligible_permission == "truststores.approve"
    assert events(request) == ["test.two_person.submitted"]


def test_submit_needs_the_submit_permission(submit, people):
    with pytest.raises(Forbidden, match=r"truststores\.submit"):
        submit(submitter=people.ann)  # an approver may not submit this kind
    assert not ApprovalRequest.objects.exists()


def test_self_approval_is_refused(submit, people, domain):
    grant_role(people.sam, Role.APPROVER, domain)  # holds the permission, still the submitter
    request = submit()

    with pytest.raises(Forbidden, match="you submitted this request"):
        services.approve(request.pk, people.sam)
    with pytest.raises(Forbidden):
        services.reject(request.pk, people.sam, "no")

    request.refresh_from_db()
    assert request.state == State.PENDING
    assert not request.decisions.exists()


def test_a_second_vote_by_the_same_user_is_refused(submit, people):
    request = submit(m=2)
    services.approve(request.pk, people.ann)

    with pytest.raises(Conflict) as exc:
        services.approve(request.pk, people.ann, "again")
    assert exc.value.code == "already_decided"
    with pytest.raises(Conflict):
        services.reject(request.pk, people.ann, "changed my mind")

    request.refresh_from_db()
    assert request.state == State.PENDING
    assert services.approvals_count(request) == 1
    assert request.decisions.count() == 1


@pytest.mark.parametrize("who", ["ned", "rita"])
def test_a_user_without_the_permission_is_refused(submit, people, who):
    request = submit()
    with pytest.raises(Forbidden, match=r"truststores\.approve"):
        services.approve(request.pk, getattr(people, who))
    assert not request.decisions.exists()


def test_the_permission_in_another_domain_does_not_count(submit, people):
    request = submit()
    with pytest.raises(Forbidden, match="in domain alpha"):
        services.approve(request.pk, people.eve)  # approver of beta, request in alpha
    request.refresh_from_db()
    assert request.state == State.PENDING
    assert not request.decisions.exists()


def test_an_anonymous_user_is_refused(submit):
    from django.contrib.auth.models import AnonymousUser

    request = submit()
    with pytest.raises(Forbidden, match="not authenticated"):
        services.approve(request.pk, AnonymousUser())


def test_an_unknown_request_is_not_found(people):
    with pytest.raises(NotFound):
        services.approve(999_999, people.ann)
    with pytest.raises(NotFound):
        services.cancel("junk", people.sam)  # type: ignore[arg-type]


@pytest.fixture
def custodians(domain, make_user):
    """Five custodians of domain alpha and an operator who proposes ceremonies."""
    return {
        "proposer": make_user("olga", Role.OPERATOR, domain),
        **{name: make_user(name, Role.CUSTODIAN, domain) for name in ("c1", "c2", "c3", "c4")},
        "named_without_role": make_user("c5"),
    }


def test_named_custodians_m_of_n(submit, custodians, queued):
    c = custodians
    request = submit(
        m=2,
        kind=CEREMONY.name,
        submitter=c["proposer"],
        eligible_users=[c["c1"], c["c2"], c["c3"], c["named_without_role"]],
    )

    # A custodian of the domain who is not named does not decide this ceremony.
    with pytest.raises(Forbidden, match="not one of the named approvers"):
        services.approve(request.pk, c["c4"])
    # Being named is not enough without the permission in the domain.
    with pytest.raises(Forbidden, match=r"ceremonies\.approve"):
        services.approve(request.pk, c["named_without_role"])

    services.approve(request.pk, c["c1"])
    request.refresh_from_db()
    assert request.state == State.PENDING
    services.approve(request.pk, c["c3"])
    request.refresh_from_db()
    assert request.state == State.APPROVED
    assert services.approvals_count(request) == 2


def test_named_approvers_are_checked_at_submit(submit, custodians):
    c = custodians
    with pytest.raises(ValidationError, match="submitter"):
        submit(m=1, kind=CEREMONY.name, submitter=c["proposer"], eligible_users=[c["proposer"]])
    with pytest.raises(ValidationError, match="distinct"):
        submit(m=3, kind=CEREMONY.name, submitter=c["proposer"], eligible_users=[c["c1"], c["c2"]])
    with pytest.raises(ValidationError):
        submit(m=0)


def test_only_the_submitter_cancels_and_only_while_pending(submit, people):
    request = submit()
    with pytest.raises(Forbidden, match="only the submitter"):
        services.cancel(request.pk, people.ann)

    services.cancel(request.pk, people.sam, "not needed")
    request.refresh_from_db()
    assert request.state == State.CANCELLED
    assert events(request)[-1] == "test.two_person.cancelled"

    with pytest.raises(Conflict) as exc:
        services.cancel(request.pk, people.sam)
    assert exc.value.code == "not_pending"


def test_the_submitter_cannot_cancel_an_approved_request(submit, people):
    request = submit()
    services.approve(request.pk, people.ann)
    with pytest.raises(Conflict, match="approved"):
        services.cancel(request.pk, people.sam)


def test_a_cancelled_request_can_no_longer_be_approved(submit, people, queued):
    request = submit()
    services.cancel(request.pk, people.sam)

    with pytest.raises(Conflict) as exc:
        services.approve(request.pk, people.ann)
    assert exc.value.code == "not_pending"
    request.refresh_from_db()
    assert request.state == State.CANCELLED
    assert not request.decisions.exists()
    assert queued == []


def test_a_rejected_request_can_no_longer_be_approved(submit, people, queued):
    request = submit(m=2)
    services.approve(request.pk, people.ann)
    services.reject(request.pk, people.bob, "wrong bundle")
    request.refresh_from_db()
    assert request.state == State.REJECTED
    assert request.decided_at is not None

    with pytest.raises(Conflict) as exc:
        services.approve(request.pk, people.cid)
    assert exc.value.code == "not_pending"
    request.refresh_from_db()
    assert request.state == State.REJECTED
    assert request.action_state == ActionState.NONE
    assert queued == []
    assert run_action(request.pk).startswith("skipped")
    assert actions_ran(request) == 0


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_a_rejection_needs_a_reason(submit, people, reason):
    request = submit()
    with pytest.raises(ValidationError, match="reason"):
        services.reject(request.pk, people.ann, reason)
    request.refresh_from_db()
    assert request.state == State.PENDING
    assert not request.decisions.exists()

    services.reject(request.pk, people.ann, "the bundle has an expired root")
    request.refresh_from_db()
    assert request.state == State.REJECTED
    decision = request.decisions.get()
    assert (decision.approver, decision.verdict) == (people.ann, Decision.Verdict.REJECT)
    assert decision.comment == "the bundle has an expired root"


def test_quorum_of_two_needs_two_distinct_approvers(
    submit, people, queued, django_capture_on_commit_callbacks
):
    request = submit(m=2)

    with django_capture_on_commit_callbacks(execute=True):
        services.approve(request.pk, people.ann, "looks right")
    request.refresh_from_db()
    assert request.state == State.PENDING
    assert request.action_state == ActionState.NONE
    assert queued == []

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.approve(request.pk, people.bob)
    request.refresh_from_db()
    assert request.state == State.APPROVED
    assert request.action_state == ActionState.QUEUED
    assert services.approvals_count(request) == 2
    # The action is queued once, and only when the deciding transaction commits.
    assert callbacks and queued == [request.pk]
    assert actions_ran(request) == 0

    assert run_action(request.pk) == "done"
    request.refresh_from_db()
    assert request.action_state == ActionState.DONE
    assert request.action_result == {"ran": request.subject_id}
    assert actions_ran(request) == 1
    assert events(request) == [
        "test.two_person.submitted",
        "test.two_person.approval_recorded",
        "test.two_person.approval_recorded",
        "test.two_person.approved",
        "test.action.ran",
        "test.two_person.action_done",
    ]


def test_run_action_rechecks_the_quorum(submit, people):
    request = submit(m=2)
    services.approve(request.pk, people.ann)
    # A path that skipped the engine: approved without the second decision.
    ApprovalRequest.objects.filter(pk=request.pk).update(
        state=State.APPROVED, action_state=ActionState.QUEUED
    )

    assert run_action(request.pk) == "failed"
    request.refresh_from_db()
    assert request.action_state == ActionState.FAILED
    assert "quorum not met: 1 of 2" in request.action_result["error"]
    assert actions_ran(request) == 0
    assert events(request)[-1] == "test.two_person.action_failed"


def test_run_action_refuses_when_an_approver_lost_the_permission(submit, people, domain):
    request = submit(m=1)
    services.approve(request.pk, people.ann)
    revoke_role(people.ann, Role.APPROVER, domain)

    assert run_action(request.pk) == "failed"
    request.refresh_from_db()
    assert request.action_state == ActionState.FAILED
    assert actions_ran(request) == 0


def test_run_action_delivered_twice_runs_the_action_once(submit, people, queued):
    request = submit()
    services.approve(request.pk, people.ann)

    assert run_action(request.pk) == "done"
    assert run_action(request.pk) == "skipped (approved/done)"
    assert actions_ran(request) == 1


def test_run_action_skips_pending_and_missing_requests(submit):
    request = submit()
    assert run_action(request.pk) == "skipped (pending/none)"
    assert run_action(999_999) == "missing"
    assert actions_ran(request) == 0


def test_a_failing_action_rolls_back_and_can_be_retried(submit, people):
    request = submit(payload={"fail": True})
    services.approve(request.pk, people.ann)

    assert run_action(request.pk) == "failed"
    request.refresh_from_db()
    assert request.action_state == ActionState.FAILED
    assert "asked to fail" in request.action_result["error"]
    # The action's own writes rolled back with it.
    assert actions_ran(request) == 0

    ApprovalRequest.objects.filter(pk=request.pk).update(payload={})
    assert run_action(request.pk) == "done"
    assert actions_ran(request) == 1


def test_a_broker_outage_at_commit_does_not_fail_the_approval_and_is_requeued(
    submit, people, monkeypatch, django_capture_on_commit_callbacks
):
    request = submit(m=1)

    def broker_down(pk: int) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(run_action, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(request.pk, people.ann)  # must not raise
    request.refresh_from_db()
    assert (request.state, request.action_state) == (State.APPROVED, ActionState.QUEUED)

    resent: list[int] = []
    monkeypatch.setattr(run_action, "delay", resent.append)
    assert requeue_stalled(older_than_seconds=3600) == 0  # too recent to call stalled
    assert requeue_stalled(older_than_seconds=0) == 1
    assert resent == [request.pk]
    assert run_action(request.pk) == "done"
    assert requeue_stalled(older_than_seconds=0) == 0  # done: nothing left to send
