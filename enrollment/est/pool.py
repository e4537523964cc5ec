"""EST's bounded pool: at most ANCHORAGE_EST_MAX_CONCURRENT enrollments at once across every
web process, so a burst of devices is shed with 503 + Retry-After instead of taking every
worker from the console and the API (the bulkhead of seed 003).

With Redis the slots are members of a sorted set scored by when they were taken: taking one
is one atomic script, a slot a crashed process never gave back ages out after
ANCHORAGE_EST_SLOT_TTL seconds. Without Redis (the embedded default) each process has its
own semaphore of that size."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

from config.errors import Unavailable

logger = logging.getLogger(__name__)

_KEY = "anchorage:est:slots"
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""


class Saturated(Unavailable):
    code = "est_saturated"

    def __init__(self) -> None:
        super().__init__("the EST enrollment pool is saturated; retry later")
        self.retry_after = settings.ANCHORAGE_EST_RETRY_AFTER


_lock = threading.Lock()
_semaphores: dict[int, threading.BoundedSemaphore] = {}
_redis: dict[str, Any] = {}


def _client() -> Any:
    url = settings.REDIS_URL
    if not url:
        return None
    with _lock:
        if url not in _redis:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
            _redis[url] = (client, client.register_script(_TAKE))
        return _redis[url]


def _semaphore(size: int) -> threading.BoundedSemaphore:
    with _lock:
        if size not in _semaphores:
            _semaphores[size] = threading.BoundedSemaphore(size)
        return _semaphores[size]


@contextmanager
def slot() -> Iterator[None]:
    """Hold one of the pool's slots for the block, or raise Saturated at once."""
    size = settings.ANCHORAGE_EST_MAX_CONCURRENT
    found = _client()
    if found is not None:
        client, take = found
        token = uuid.uuid4().hex
        try:
            taken = take(
                keys=[_KEY], args=[time.time(), size, settings.ANCHORAGE_EST_SLOT_TTL, token]
            )
        except Exception as exc:  # Redis down: the per-process bound still holds
            logger.warning("EST pool: Redis unavailable (%s), per-process bound only", exc)
        else:
            if not taken:
                raise Saturated()
            try:
                yield
            finally:
                try:
                    client.zrem(_KEY, token)
                except Exception as exc:
                    logger.warning("EST pool: slot not returned (%s); it ages out", exc)
            return
    semaphore = _semaphore(size)
    if not semaphore.acquire(blocking=False):
        raise Saturated()
    try:
        yield
    finally:
        semaphore.release()
