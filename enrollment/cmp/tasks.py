"""Revoking certificates whose certConf never came (RFC 9483 §4.1.1)."""

from __future__ import annotations

from celery import shared_task

from enrollment.cmp.operations import expire_due


@shared_task
def expire_unconfirmed() -> int:
    return expire_due()
