"""The outbox relay: fans committed outbox messages out to webhook endpoints and delivers
them at least once, signed with HMAC-SHA256, retrying with exponential backoff.

Rows are claimed with SELECT … FOR UPDATE SKIP LOCKED in short transactions (a lease), and
the HTTP call happens outside any transaction: parallel relays never take the same row and
a slow receiver never holds a lock. A relay that dies mid-delivery leaves the lease to
expire and the delivery is retried: at least once, never lost.
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import OutboxMessage, WebhookDelivery, WebhookEndpoint
from pki.crypto.sealing import hmac_sha256, unseal

logger = logging.getLogger(__name__)

WEBHOOK_SECRET_PURPOSE = "audit.webhook.secret"  # noqa: S105 (AEAD label)
_LEASE = timedelta(seconds=60)


@dataclass
class RelayRun:
    dispatched: int = 0
    delivered: int = 0
    failed: int = 0


def dispatch(batch_size: int = 500) -> int:
    """Turn undispatched messages into one pending delivery per interested endpoint."""
    with transaction.atomic():
        messages = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(dispatched_at__isnull=True)
            .order_by("id")[:batch_size]
        )
        if not messages:
            return 0
        endpoints = list(WebhookEndpoint.objects.filter(active=True).select_related("domain"))
        now = timezone.now()
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(message=m, endpoint=e, next_attempt_at=now)
                for m in messages
                for e in endpoints
                if e.wants(m)
            ],
            ignore_conflicts=True,
        )
        OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(dispatched_at=now)
        return len(messages)


def _claim(batch_size: int) -> list[WebhookDelivery]:
    now = timezone.now()
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("message", "endpoint")
            .filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")[:batch_size]
        )
        if due:
            WebhookDelivery.objects.filter(pk__in=[d.pk for d in due]).update(
                next_attempt_at=now + _LEASE
            )
    return due


def deliver_due(batch_size: int = 50, max_rounds: int = 20) -> tuple[int, int]:
    delivered = failed = 0
    for _ in range(max_rounds):
        claimed = _claim(batch_size)
        if not claimed:
            break
        for delivery in claimed:
            if _deliver(delivery):
                delivered += 1
            else:
                failed += 1
    return delivered, failed


def relay(batch_size: int = 500) -> RelayRun:
    run = RelayRun()
    while True:
        n = dispatch(batch_size)
        run.dispatched += n
        if n < batch_size:
            break
    run.delivered, run.failed = deliver_due()
    return run


def signed_request(delivery: WebhookDelivery) -> urllib.request.Request:
    message = delivery.message
    body = json.dumps(
        {"id": message.pk, "topic": message.topic, "payload": message.payload},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    timestamp = str(int(time.time()))
    secret = unseal(delivery.endpoint.sealed_secret, WEBHOOK_SECRET_PURPOSE)
    # The timestamp is signed with the body so a receiver can refuse stale replays.
    signature = hmac_sha256(secret, timestamp.encode() + b"." + body)
    return urllib.request.Request(  # noqa: S310 (URL is an admin-configured http(s) endpoint)
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Anchorage-Webhook/1",
            "X-Anchorage-Topic": message.topic,
            "X-Anchorage-Message": str(message.pk),
            "X-Anchorage-Delivery": str(delivery.pk),
            "X-Anchorage-Timestamp": timestamp,
            "X-Anchorage-Signature": f"sha256={signature}",
        },
    )


def _deliver(delivery: WebhookDelivery) -> bool:
    error = ""
    try:
        request = signed_request(delivery)
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=settings.ANCHORAGE_WEBHOOK_TIMEOUT
        ) as response:
            ok = 200 <= response.status < 300
            error = "" if ok else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        ok, error = False, f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        ok, error = False, f"{type(exc).__name__}: {exc}"
    _record_attempt(delivery, ok, error)
    return ok


def backoff(attempts: int) -> timedelta:
    base = settings.ANCHORAGE_WEBHOOK_BACKOFF_SECONDS
    delay = min(base * 2 ** (attempts - 1), 3600.0)
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))  # noqa: S311 (jitter)


def _record_attempt(delivery: WebhookDelivery, ok: bool, error: str) -> None:
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields: dict[str, object] = {"attempts": attempts, "last_error": error[:2000]}
    if ok:
        fields |= {"state": WebhookDelivery.State.DELIVERED, "delivered_at": now}
    elif attempts >= settings.ANCHORAGE_WEBHOOK_MAX_ATTEMPTS:
        fields |= {"state": WebhookDelivery.State.FAILED}
        logger.warning("webhook delivery %s gave up after %s attempts", delivery.pk, attempts)
    else:
        fields |= {"next_attempt_at": now + backoff(attempts)}
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
