"""Approvals racing each other, each in its own thread and database connection.

On PostgreSQL the engine's row lock (SELECT … FOR UPDATE) serialises them; on SQLite the
IMMEDIATE transactions do. Either way the action runs exactly once.
"""

from __future__ import annotations

from functools import partial

import pytest

from approvals import services
from approvals.models import ApprovalRequest, Decision
from approvals.tasks import run_action
from config.errors import Conflict
from tests.approvals.testkind import actions_ran
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run_on_commit(monkeypatch) -> list[int]:
    """The broker replaced by running the task in the thread whose commit queued it."""
    queued: list[int] = []

    def delay(pk: int) -> None:
        queued.append(pk)
        run_action(pk)

    monkeypatch.setattr(run_action, "delay", delay)
    return queued


def test_concurrent_approvals_reaching_quorum_run_the_action_once(submit, people, run_on_commit):
    request = submit(m=2)
    services.approve(request.pk, people.ann)  # one approval already there

    racers = [people.bob, people.cid, people.dan]
    results = run_together([partial(services.approve, request.pk, u) for u in racers])

    winners = [r for r in results if isinstance(r, ApprovalRequest)]
    losers = [r for r in results if not isinstance(r, ApprovalRequest)]
    assert len(winners) == 1, results
    assert len(losers) == len(racers) - 1
    assert all(isinstance(r, Conflict) and r.code == "not_pending" for r in losers), losers

    request.refresh_from_db()
    assert request.state == ApprovalRequest.State.APPROVED
    assert request.action_state == ApprovalRequest.ActionState.DONE
    assert request.decisions.filter(verdict=Decision.Verdict.APPROVE).count() == 2
    assert run_on_commit == [request.pk]
    assert actions_ran(request) == 1

    # A late redelivery of the task changes nothing.
    assert run_action(request.pk) == "skipped (approved/done)"
    assert actions_ran(request) == 1


def test_two_concurrent_first_approvals_both_count_and_run_once(submit, people, run_on_commit):
    request = submit(m=2)

    racers = [people.ann, people.bob]
    results = run_together([partial(services.approve, request.pk, u) for u in racers])

    assert all(isinstance(r, ApprovalRequest) for r in results), results
    request.refresh_from_db()
    assert request.state == ApprovalRequest.State.APPROVED
    assert services.approvals_count(request) == 2
    assert run_on_commit == [request.pk]
    assert actions_ran(request) == 1


def test_the_same_user_approving_twice_at_once_counts_once(submit, people, run_on_commit):
    request = submit(m=2)

    results = run_together([lambda: services.approve(request.pk, people.ann)] * 2)

    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(conflicts) == 1, results
    assert conflicts[0].code == "already_decided"
    request.refresh_from_db()
    assert request.state == ApprovalRequest.State.PENDING
    assert request.decisions.count() == 1
    assert run_on_commit == []


def test_run_action_delivered_concurrently_runs_once(submit, people, queued):
    request = submit()
    services.approve(request.pk, people.ann)
    assert queued == [request.pk]

    results = run_together([lambda: run_action(request.pk)] * 4)

    assert sorted(results) == ["done"] + ["skipped (approved/done)"] * 3
    request.refresh_from_db()
    assert request.action_state == ApprovalRequest.ActionState.DONE
    assert actions_ran(request) == 1
