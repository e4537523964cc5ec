"""The removal plans' beat task: runs every plan's due steps (truststores.estate.removal).
Idempotent and safe to retry: a step is done once, under its plan's row lock."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from truststores.estate import removal


@shared_task(ignore_result=True, name="truststores.estate.removal_tasks.run_due_removals")
def run_due_removals() -> dict[str, int]:
    return removal.run_all_due(timezone.now())
