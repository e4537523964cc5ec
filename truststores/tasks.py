"""The swap in the background: queued when a truststore request is approved (on commit)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

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
    if deploy.deploy(request_id):
        return "ready"
    from truststores.models import TruststoreRequest

    state = TruststoreRequest.objects.filter(pk=request_id).values_list("state", flat=True)
    if state.first() != TruststoreRequest.State.APPROVED:
        return "skipped"
    raise DeployFailed(f"truststore request #{request_id} could not be deployed yet")
