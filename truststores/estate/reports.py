"""What consumers report: the SHA-256 fingerprints their trust store holds (and optionally
the certificates, from which fingerprints are computed). A report authenticates with the
consumer's own token, never a user's: the URL names the consumer, and the SHA-256 of the
presented token is compared with its stored digest in constant time."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import record
from pki.crypto.bundles import BundleRefused, read_bundle
from truststores.estate.catalog import fingerprint_of
from truststores.estate.inventory import token_digest
from truststores.estate.models import Consumer, ObservedState

MAX_FINGERPRINTS = 5000


class NotAuthenticated(Exception):
    """No such consumer, no token issued, or the wrong token (401, one answer for all)."""


def authenticate(consumer_id: str, token: str) -> Consumer:
    consumer = (
        Consumer.objects.select_related("domain").filter(pk=consumer_id).first()
        if consumer_id.isdigit() and len(consumer_id) <= 18
        else None
    )
    presented = token_digest(token)
    stored = consumer.token_digest if consumer is not None else ""
    # Compared even when there is nothing to compare with, so timing says nothing either.
    if not hmac.compare_digest(presented, stored or "0" * 64) or consumer is None or not stored:
        raise NotAuthenticated("unknown consumer or wrong report token")
    return consumer


def normalise(fingerprints: Any, pems: Any = None) -> list[str]:
    """Sorted, distinct, lower-case SHA-256 hex from a list of fingerprints (hex, with or
    without colons) and an optional list of PEM certificates."""
    if not isinstance(fingerprints, list):
        raise ValidationError({"fingerprints": "a list of SHA-256 fingerprints (hex)"})
    # Refused before any work: a trust store of more CAs than this is not a trust store.
    if len(fingerprints) > MAX_FINGERPRINTS:
        raise ValidationError({"fingerprints": f"at most {MAX_FINGERPRINTS} fingerprints"})
    out: set[str] = set()
    for index, value in enumerate(fingerprints):
        text = fingerprint_of(value)
        if text is None:
            raise ValidationError({"fingerprints": f"item {index}: not a SHA-256 hex fingerprint"})
        out.add(text)
    if pems is not None:
        if not isinstance(pems, list) or not all(isinstance(p, str) for p in pems):
            raise ValidationError({"certificates": "a list of PEM certificates"})
        if len(pems) > MAX_FINGERPRINTS:
            raise ValidationError({"certificates": f"at most {MAX_FINGERPRINTS} certificates"})
        for index, text in enumerate(pems):
            try:
                ders = read_bundle(text.encode())
            except BundleRefused as exc:
                raise ValidationError({"certificates": f"item {index}: {exc.reason}"}) from None
            out.update(hashlib.sha256(der).hexdigest() for der in ders)
    if len(out) > MAX_FINGERPRINTS:
        raise ValidationError({"fingerprints": f"at most {MAX_FINGERPRINTS} fingerprints"})
    return sorted(out)


@transaction.atomic
def record_report(consumer: Consumer, fingerprints: list[str], reporter: str = "") -> ObservedState:
    """Store the consumer's state (already normalised). Drift is the drift job's business."""
    now = timezone.now()
    state, _ = ObservedState.objects.update_or_create(
        consumer=consumer,
        defaults={"fingerprints": fingerprints, "reported_at": now, "reporter": reporter[:100]},
    )
    Consumer.objects.filter(pk=consumer.pk).update(last_report_at=now)
    consumer.last_report_at = now
    # Not published: reports are frequent; drift (what changes) raises the events.
    record(
        "estate.consumer.reported",
        domain=consumer.domain,
        obj=consumer,
        details={"count": len(fingerprints), "reporter": reporter[:100]},
        publish=False,
    )
    return state
