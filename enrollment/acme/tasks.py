"""Challenge validation in Celery workers (never in the web request), and the sweep that
sends a lost check again."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from enrollment.acme import services, validation
from enrollment.acme.models import AcmeChallenge, Status

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def validate_challenge(challenge_id: int) -> str:
    """Idempotent: a challenge no longer processing is left alone."""
    challenge = (
        AcmeChallenge.objects.select_related("authorization__order__account")
        .filter(pk=challenge_id)
        .first()
    )
    if challenge is None or challenge.status != Status.PROCESSING:
        return "nothing to do"
    authz = challenge.authorization
    key_authorization = f"{challenge.token}.{authz.order.account.thumbprint}"
    if settings.ANCHORAGE_ACME_BENCH_SKIP_VALIDATION:  # benchmark only; refused in production
        error = None
    else:
        name = authz.identifier_value.removeprefix("*.")  # a wildcard proves its base name
        error = validation.check(challenge.type, name, challenge.token, key_authorization)
    services.record_validation(challenge_id, error)
    return "invalid" if error else "valid"


@shared_task
def requeue_stalled(older_than_seconds: int = 60) -> int:
    """Send the check again for challenges processing longer than a check takes."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stalled = list(
        AcmeChallenge.objects.filter(status=Status.PROCESSING, requested_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    for pk in stalled:
        enqueue(pk)
    if stalled:
        logger.warning("re-queued %d stalled ACME challenge checks", len(stalled))
    return len(stalled)


def enqueue(challenge_id: int) -> None:
    """Send the check to a worker; a broker that is down is logged, and the sweep retries."""
    try:
        dispatcher(challenge_id)
    except Exception:
        logger.warning(
            "could not queue ACME challenge %s; the sweep will", challenge_id, exc_info=True
        )


def _send(challenge_id: int) -> None:
    validate_challenge.delay(challenge_id)


dispatcher = _send  # tests point this at their own worker's queue
