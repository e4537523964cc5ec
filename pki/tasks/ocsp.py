"""OCSP upkeep from beat: responders renewed before they expire, responses re-signed before
their nextUpdate. Both are idempotent: a second run finds nothing due."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.conf import settings

from pki.services import ocsp

logger = logging.getLogger(__name__)

BUDGET_SECONDS = 240.0  # one run stops here; the next picks up what is left


@shared_task(acks_late=True)
def renew_responders() -> int:
    """Renew every responder with less than a third of its life left, then re-sign that
    CA's responses with the new one (the old certificate must not outlive them)."""
    renewed = 0
    for ca in ocsp.cas_to_serve():
        try:
            if not ocsp.renew_responder(ca):
                continue
        except Exception:  # one CA's backend down must not stop the others
            logger.exception("renewing the OCSP responder of %s failed", ca.slug)
            continue
        renewed += 1
        after: int | None = 0
        while after is not None:
            after = ocsp.resign_ca(ca, after, settings.ANCHORAGE_OCSP_BATCH)
    return renewed


@shared_task(acks_late=True)
def refresh_responses() -> int:
    """Re-sign responses whose nextUpdate is within ANCHORAGE_OCSP_REFRESH_SECONDS, a batch
    per transaction, until none is due or the run's time is up."""
    started, total = time.monotonic(), 0
    while time.monotonic() - started < BUDGET_SECONDS:
        done = ocsp.refresh_due(settings.ANCHORAGE_OCSP_BATCH)
        total += done
        if done < settings.ANCHORAGE_OCSP_BATCH:
            break
    return total
