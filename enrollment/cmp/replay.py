"""Replay protection (RFC 9483 §3.1, RFC 4210 §5.1.1): a (sender, senderNonce) pair is
accepted once. Remembered for ANCHORAGE_CMP_NONCE_SECONDS by every web process: in Redis
(through Django's cache, whose add() is atomic) when REDIS_URL is set, else in the database
(a unique row), like ACME nonces (enrollment.acme.nonces)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from enrollment.cmp.models import CmpNonce

_PREFIX = "cmp-nonce:"


def remembered_seconds() -> int:
    """Seconds a nonce is remembered: ANCHORAGE_CMP_NONCE_SECONDS, but never less than the
    span a message is accepted by its messageTime (the skew either side of now), else a
    message could be replayed within its own time window."""
    return max(settings.ANCHORAGE_CMP_NONCE_SECONDS, 2 * settings.ANCHORAGE_CMP_MAX_SKEW_SECONDS)


def first_use(domain_id: int, sender: str, nonce: bytes) -> bool:
    """True the first time this sender uses this nonce in this domain; False ever after."""
    key = hashlib.sha256(f"{domain_id}\0{sender}\0".encode() + nonce).hexdigest()
    lifetime = remembered_seconds()
    if settings.REDIS_URL:
        return bool(cache.add(_PREFIX + key, 1, timeout=lifetime))
    now = timezone.now()
    if secrets.randbelow(200) == 0:  # now and then, sweep the expired ones
        CmpNonce.objects.filter(expires__lt=now).delete()
    try:
        with transaction.atomic():
            CmpNonce.objects.create(key=key, expires=now + timedelta(seconds=lifetime))
    except IntegrityError:
        return False
    return True
