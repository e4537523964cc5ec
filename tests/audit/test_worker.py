"""Approved actions and the outbox relay run in a real Celery worker process (tests/worker.py),
against the test database."""

from __future__ import annotations

import pytest
from django.db import transaction

from accounts.roles import Role
from approvals import services
from approvals.models import ApprovalRequest
from approvals.tasks import run_action
from audit.models import WebhookDelivery
from audit.services import record
from audit.tasks import relay_outbox
from audit.webhooks import create_endpoint
from tests import worker as celery_worker
from tests.approvals.testkind import TWO_PERSON, actions_ran

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

worker = celery_worker.worker
wait_for = celery_worker.wait_for


def test_an_approved_action_runs_once_in_the_worker(worker, domain, make_user):
    submitter = make_user("sam", Role.RA_OFFICER, domain)
    approver = make_user("ann", Role.APPROVER, domain)
    request = services.submit(
        kind=TWO_PERSON.name,
        domain=domain,
        subject_type="test.thing",
        subject_id="in-the-worker",
        submitter=submitter,
    )
    services.approve(request.pk, approver)
    request.refresh_from_db()
    assert request.action_state == ApprovalRequest.ActionState.QUEUED

    # Delivered twice, as a broker may: the worker runs the action once.
    sent = [worker.send(run_action, request.pk) for _ in range(2)]

    def finished() -> bool:
        text = worker.log.read_text()
        return all(f"approvals.tasks.run_action[{r.id}] succeeded" in text for r in sent)

    wait_for(finished, "both run_action tasks", worker.log)
    request.refresh_from_db()
    assert request.action_state == ApprovalRequest.ActionState.DONE
    assert request.action_result == {"ran": "in-the-worker"}
    assert actions_ran(request) == 1
    text = worker.log.read_text()
    assert f"run_action[{sent[0].id}] succeeded" in text
    assert "'done'" in text
    assert "'skipped (approved/done)'" in text


def test_the_outbox_relay_runs_in_the_worker(worker, receiver, domain):
    _, receiver.secret = create_endpoint("receiver", receiver.url)
    with transaction.atomic():
        record("test.worker.relayed", domain=domain, details={"from": "worker"})

    sent = worker.send(relay_outbox)

    def delivered() -> bool:
        return WebhookDelivery.objects.filter(state=WebhookDelivery.State.DELIVERED).exists()

    wait_for(delivered, "the relay to deliver", worker.log)
    # The worker signed with the secret sealed by this process (same KEK).
    assert [r["topic"] for r in receiver.requests] == ["test.worker.relayed"]
    assert receiver.requests[0]["signature_valid"]
    assert receiver.requests[0]["body"]["payload"]["details"] == {"from": "worker"}
    wait_for(
        lambda: f"audit.tasks.relay_outbox[{sent.id}] succeeded" in worker.log.read_text(),
        "the relay task to finish",
        worker.log,
    )
