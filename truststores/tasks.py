"""The swap in the background: queued when a truststore request is approved (on commit)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.utils import timezone

from truststores import deploy


class DeployFailed(Exception):
    """A target failed; the error is on the request. Raised so Celery retries with backoff."""


@shared_task(
    bind=True,
    autoretry_for=(DeployFailed,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    ignore_result=True,
    name="truststores.tasks.deploy_request",
)
def deploy_request(self: Any, request_id: int) -> str:
    outcome = deploy.deploy(request_id)
    if outcome == deploy.Outcome.FAILED:
        raise DeployFailed(f"truststore request #{request_id} could not be deployed yet")
    return outcome.value


@shared_task(ignore_result=True, name="truststores.tasks.requeue_approved")
def requeue_approved(older_than_seconds: int = 120) -> int:
    """Beat's safety net: an approved request whose swap message was lost (broker down at
    commit, a worker killed mid-task) is queued again. A request whose swap failed keeps
    its error and waits for a person's retry (retry()), so a broken target is not hammered."""
    from truststores.models import TruststoreRequest

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stalled = TruststoreRequest.objects.filter(
        state=TruststoreRequest.State.APPROVED, error="", decided_at__lt=cutoff
    ).values_list("pk", flat=True)
    count = 0
    for pk in stalled:
        deploy_request.delay(pk)
        count += 1
    return count
