"""Celery tasks of the audit app: the outbox relay."""

from __future__ import annotations

import logging
import time

from celery import shared_task

logger = logging.getLogger(__name__)

_last_wake = 0.0
_WAKE_EVERY = 1.0  # seconds; beat runs the relay anyway, this only shortens the wait


@shared_task(name="audit.tasks.relay_outbox", ignore_result=True)
def relay_outbox() -> dict[str, int]:
    from audit.relay import relay

    run = relay()
    if run.dispatched or run.delivered or run.failed:
        logger.info("outbox relay: %s", run)
    return {"dispatched": run.dispatched, "delivered": run.delivered, "failed": run.failed}


def wake_relay() -> None:
    """Ask a worker to run the relay soon, at most once a second per process."""
    global _last_wake
    now = time.monotonic()
    if now - _last_wake < _WAKE_EVERY:
        return
    _last_wake = now
    try:
        relay_outbox.apply_async(countdown=0.2)
    except Exception:  # the broker being down must not fail a committed change
        logger.warning("could not wake the outbox relay; beat will run it", exc_info=True)
