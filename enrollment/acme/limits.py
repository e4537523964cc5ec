"""Per-account rate limits (RFC 8555 §6.6: rateLimited with Retry-After): new orders an
account may create per hour, counted in the shared cache (Redis when REDIS_URL is set)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from enrollment.acme.models import AcmeAccount
from enrollment.acme.problems import AcmeProblem

WINDOW = 3600


def count_new_order(account: AcmeAccount) -> None:
    limit = settings.ANCHORAGE_ACME_ORDERS_PER_HOUR
    if limit <= 0:
        return
    now = int(time.time())
    bucket = now // WINDOW
    key = f"acme-orders:{account.ident}:{bucket}"
    cache.add(key, 0, timeout=WINDOW + 60)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr: this is the first of a new bucket
        cache.set(key, 1, timeout=WINDOW + 60)
        used = 1
    if used > limit:
        wait = (bucket + 1) * WINDOW - now
        raise AcmeProblem(
            "rateLimited",
            f"at most {limit} new orders an hour per account; try again in {wait} s",
            429,
            headers={"Retry-After": str(wait)},
        )
