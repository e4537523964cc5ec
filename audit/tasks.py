"""Celery tasks of the audit app: seal the chain, then relay the outbox."""

from __future__ import annotations

import logging
import time

from celery import shared_task

logger = logging.getLogger(__name__)

_last_wake = 0.0
_WAKE_EVERY = 1.0  # seconds; beat runs the task anyway, this only shortens the wait


@shared_task(name="audit.tasks.relay_outbox", ignore_result=True)
def relay_outbox() -> dict[str, int]:
    from audit.chain import seal
    from audit.relay import relay

    sealed = seal()
    run = relay()
    if sealed or run.dispatched or run.delivered or run.failed:
        logger.info("sealed %s audit events; outbox relay: %s", sealed, run)
    return {
        "sealed": sealed,
        "dispatched": run.dispatched,
        "delivered": run.delivered,
        "failed": run.failed,
    }


def wake_relay() -> None:
    """Ask a worker to seal and relay soon: at most one message a second per process, run
    a second later, so it also covers the commits this process makes in that second."""
    global _last_wake
    now = time.monotonic()
    if now - _last_wake < _WAKE_EVERY:
        return
    _last_wake = now
    try:
        relay_outbox.apply_async(countdown=_WAKE_EVERY)
    except Exception:  # the broker being down must not fail a committed change
        logger.warning("could not wake the outbox relay; beat will run it", exc_info=True)
