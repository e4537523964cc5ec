"""Challenge validation in Celery workers (never in the web request)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from enrollment.acme import services, validation
from enrollment.acme.models import AcmeChallenge, Status


@shared_task(acks_late=True)
def validate_challenge(challenge_id: int, key_authorization: str) -> str:
    challenge = (
        AcmeChallenge.objects.select_related("authorization").filter(pk=challenge_id).first()
    )
    if challenge is None or challenge.status != Status.PROCESSING:
        return "nothing to do"
    authz = challenge.authorization
    if settings.ANCHORAGE_ACME_BENCH_SKIP_VALIDATION:  # benchmark only; refused in production
        error = None
    else:
        name = authz.identifier_value.removeprefix("*.")  # a wildcard proves its base name
        error = validation.check(challenge.type, name, challenge.token, key_authorization)
    services.record_validation(challenge_id, error)
    return "invalid" if error else "valid"


def enqueue(challenge_id: int, key_authorization: str) -> None:
    """Send the check to a worker (tests replace this to reach their own worker's queue)."""
    dispatcher(challenge_id, key_authorization)


def _send(challenge_id: int, key_authorization: str) -> None:
    validate_challenge.delay(challenge_id, key_authorization)


dispatcher = _send
