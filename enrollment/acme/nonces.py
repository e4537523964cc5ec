"""Replay nonces (RFC 8555 §6.5): single use, expiring, shared by every web process — in Redis
(through Django's cache) when REDIS_URL is set, else in the database."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from enrollment.acme.models import AcmeNonce

LIFETIME = timedelta(hours=1)
_PREFIX = "acme-nonce:"


def _use_cache() -> bool:
    return bool(settings.REDIS_URL)


def issue() -> str:
    value = secrets.token_urlsafe(18)
    if _use_cache():
        cache.set(_PREFIX + value, 1, timeout=int(LIFETIME.total_seconds()))
        return value
    now = timezone.now()
    if secrets.randbelow(200) == 0:  # now and then, sweep the expired ones
        AcmeNonce.objects.filter(expires__lt=now).delete()
    AcmeNonce.objects.create(value=value, expires=now + LIFETIME)
    return value


def consume(value: object) -> bool:
    """True once for a nonce we issued and that has not expired; False ever after."""
    if not isinstance(value, str) or not 8 <= len(value) <= 64:
        return False
    if _use_cache():
        # DEL answers how many keys it removed: of two concurrent uses, one wins.
        return bool(cache.delete(_PREFIX + value))
    deleted, _ = AcmeNonce.objects.filter(value=value, expires__gt=timezone.now()).delete()
    return deleted == 1
