"""The removal plans' beat task in a real Celery worker (tests/worker.py): a plan's due
steps run there, and each notification reaches the outbox once even when the task is
delivered twice (a broker redelivery, or beat and an operator's run at once)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import OutboxMessage
from tests import worker as celery_worker
from tests.estate.helpers import Estate, bulk_consumers
from truststores.estate import removal, removal_tasks
from truststores.estate.models import RemovalPlan, RemovalStep

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

worker = celery_worker.worker
wait_for = celery_worker.wait_for
Kind = RemovalStep.Kind


def succeeded(log_text: str, task_id: str) -> bool:
    return f"truststores.estate.removal_tasks.run_due_removals[{task_id}] succeeded" in log_text


def test_the_worker_runs_due_steps_and_notifies_once(worker, estate: Estate) -> None:
    bulk_consumers(estate, 30, estate.public, "web")
    now = timezone.now()
    # A distrust event: announced at once, removal in 30 days, so T-30 is due now too.
    plan = removal.create_plan(
        estate.domain,
        estate.people.ra,
        estate.cas["Old Root"],
        now=now - timedelta(minutes=1),
        reason=RemovalPlan.Reason.DISTRUST,
    )
    # The same task delivered twice, back to back, to the one worker.
    first = worker.send(removal_tasks.run_due_removals)
    second = worker.send(removal_tasks.run_due_removals)
    wait_for(
        lambda: all(succeeded(worker.log.read_text(), t.id) for t in (first, second)),
        "both deliveries of the removal task",
        worker.log,
    )
    steps = {s.kind: s for s in RemovalStep.objects.filter(plan=plan)}
    assert steps[Kind.ANNOUNCE].state == steps[Kind.NOTIFY_30].state == "done"
    assert steps[Kind.NOTIFY_14].state == "pending"  # not due yet
    assert steps[Kind.NOTIFY_90].state == "skipped"  # before the announcement
    plan.refresh_from_db()
    assert plan.state == RemovalPlan.State.IN_PROGRESS
    announced = OutboxMessage.objects.filter(topic="estate.removal.announced")
    assert announced.count() == 1
    assert announced.get().payload["details"]["affected_consumers"] == 30
    notices = OutboxMessage.objects.filter(topic="estate.removal.notice")
    assert [m.payload["details"]["step"] for m in notices] == ["notify_30"]
    # A third delivery later still finds nothing new to send (nor to change).
    before = OutboxMessage.objects.filter(topic__startswith="estate.removal.").count()
    third = worker.send(removal_tasks.run_due_removals)
    wait_for(lambda: succeeded(worker.log.read_text(), third.id), "the third run", worker.log)
    assert OutboxMessage.objects.filter(topic__startswith="estate.removal.").count() == before
