"""The drift job, from beat every ANCHORAGE_ESTATE_DRIFT_SECONDS."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task

from truststores.estate import drift


@shared_task(ignore_result=True, name="truststores.estate.tasks.detect_drift")
def detect_drift() -> dict[str, Any]:
    return asdict(drift.run())
