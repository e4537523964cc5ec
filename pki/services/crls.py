"""CRLs of our CAs (RFC 5280 §5): the only writer of CrlSeries and Crl.

A CA publishes a complete CRL every ANCHORAGE_CRL_INTERVAL_SECONDS and a delta CRL every
ANCHORAGE_CRL_DELTA_SECONDS (beat runs publish_due), and a new complete + delta a few seconds
after revocations change (schedule, debounced). Complete and delta CRLs share one CRL number
sequence (§5.2.3), taken under the CA's CrlSeries row lock, and a CRL's entries are read after
that lock is taken: a higher number never carries older content.

Entries are stored encoded (Revocation.entry) and joined into the CRL in one pass
(pki.crypto.crl.build_crl), so a million entries take seconds, not hours.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet

from audit.services import record
from pki.crypto import certs, crl
from pki.crypto.backends import get_signer
from pki.models import CertificateAuthority, Crl, CrlSeries, Revocation
from pki.services import cas, crl_storage

logger = logging.getLogger(__name__)

# Rows a transaction in flight wrote before the base CRL's thisUpdate but committed after it
# are listed again by the delta; a superset is harmless.
IN_FLIGHT = timedelta(seconds=60)
# A pending request older than this lost its task (broker down, message dropped): beat runs it.
_STALE = timedelta(minutes=5)


class NotPublished(Exception):
    """This CA publishes no CRL here: its CRLs are the upstream's, or it is retired."""


def publishes(ca: CertificateAuthority) -> bool:
    """Upstream CAs (AWS Private CA) publish their own CRLs; retired CAs none. A superseded
    CA still signs CRLs for what it issued, until its own certificate expires."""
    return (
        ca.kind != CertificateAuthority.Kind.UPSTREAM
        and ca.status != CertificateAuthority.Status.RETIRED
        and bool(ca.key_ref)
    )


def latest(ca_slug: str, *, delta: bool) -> Crl | None:
    """The newest published CRL of the kind, its DER deferred (a conditional GET never needs
    it)."""
    return (
        Crl.objects.filter(ca__slug=ca_slug, delta=delta).defer("der").order_by("-number").first()
    )


def generate(ca: CertificateAuthority, *, delta: bool) -> Crl:
    """Build, sign, store and audit the next CRL of `ca`. A delta without a complete CRL to
    be its base is a complete CRL."""
    if not publishes(ca):
        raise NotPublished(f"CA {ca.slug} publishes no CRL here")
    CrlSeries.objects.get_or_create(ca=ca)
    with transaction.atomic():
        series = CrlSeries.objects.select_for_update().get(ca=ca)
        return _generate_locked(ca, series, delta=delta)


def publish(ca_id: int, *, delta: bool = False) -> list[Crl]:
    """What the task runs: a delta, or a complete CRL and the delta on it (a delta applies
    only to complete CRLs numbered below it, §5.2.4, so a new complete needs a new delta).
    Clears the pending flag first, in its own commit: a revocation that saw it set committed
    before this, so the read below, after the lock, sees it."""
    series = CrlSeries.objects.filter(ca_id=ca_id)
    series.update(pending_since=None)
    ca = CertificateAuthority.objects.select_related("domain").get(pk=ca_id)
    if not publishes(ca):
        return []
    try:
        made = [] if delta else [generate(ca, delta=False)]
        return [*made, generate(ca, delta=True)]
    except Exception:
        # Pending since long ago reads as a lost request: beat's next round publishes.
        series.filter(pending_since__isnull=True).update(pending_since=certs.now() - _STALE)
        raise


def publish_first(ca: CertificateAuthority) -> None:
    """A complete and a delta CRL for a CA that has none yet (its first CRL request)."""
    CrlSeries.objects.get_or_create(ca=ca)
    with transaction.atomic():
        series = CrlSeries.objects.select_for_update().get(ca=ca)
        if series.last_full_number is None:  # checked under the lock: one of racing requests
            _generate_locked(ca, series, delta=False)
            _generate_locked(ca, series, delta=True)


def schedule(ca: CertificateAuthority) -> None:
    """Ask for new CRLs once the caller's transaction (a revocation) commits: debounced, so
    a burst of revocations gives one generation ANCHORAGE_CRL_DEBOUNCE_SECONDS later."""
    ca_id = ca.pk
    # robust: the revocation has committed; a failure here is logged and beat catches up.
    transaction.on_commit(lambda: _request(ca_id), robust=True)


def request_crls(ca: CertificateAuthority, actor: User, *, via: str) -> None:
    """A person asks for a complete and a delta CRL now (console, admin): recorded, and
    queued for the worker once recorded (the key may sit in an HSM: the web never signs)."""
    from pki.tasks.crls import generate_crl

    ca_id = ca.pk
    with transaction.atomic():
        record("pki.crl.requested", actor=actor, domain=ca.domain, obj=ca, details={"via": via})
        transaction.on_commit(lambda: generate_crl.delay(ca_id), robust=True)
        transaction.on_commit(lambda: generate_crl.delay(ca_id, delta=True), robust=True)


def on_created(ca: CertificateAuthority) -> None:
    """A new CA publishes its first CRLs as soon as it is committed."""
    if publishes(ca):
        ca_id = ca.pk
        transaction.on_commit(lambda: _enqueue(ca_id, countdown=0), robust=True)


def publish_due(now: datetime | None = None) -> dict[str, str]:
    """Beat's round: a complete CRL where the interval has passed (or a request was lost),
    else a delta where the delta period has. Idempotent: a second round finds nothing due."""
    now = now or certs.now()
    done: dict[str, str] = {}
    for ca in _publishing(now):
        kind = _due(ca, now)
        if kind is None:
            continue
        try:
            publish(ca.pk, delta=kind == "delta")
            done[ca.slug] = kind
        except Exception:  # one CA's HSM being down must not stop the others' CRLs
            logger.exception("CRL of CA %s not published", ca.slug)
            done[ca.slug] = "failed"
    return done


# --- internals ---------------------------------------------------------------------------------


def _generate_locked(ca: CertificateAuthority, series: CrlSeries, *, delta: bool) -> Crl:
    base_number, base_at = series.last_full_number, series.last_full_at
    if base_number is None or base_at is None:
        delta = False
    now = certs.now()  # after the lock: thisUpdate never goes back along the numbers
    number = series.last_number + 1
    if delta:
        assert base_at is not None
        entries, count = _delta_entries(ca, base_at - IN_FLIGHT)
    else:
        entries, count = crl_storage.complete_entries(ca, base_at)
    urls = cas.urls(ca.slug)
    next_update = now + timedelta(seconds=settings.ANCHORAGE_CRL_VALIDITY_SECONDS)
    der = crl.build_crl(
        issuer_der=bytes(ca.certificate),
        signer=get_signer(ca.key_backend, ca.key_ref),
        number=number,
        this_update=now,
        next_update=next_update,
        entries=entries,
        url=urls["crl"],
        delta_url=None if delta else urls["crl_delta"],
        base_number=base_number if delta else None,
    )
    del entries  # a million entries are 50 MB: not kept while the CRL is stored
    row = Crl.objects.create(
        ca=ca,
        number=number,
        delta=delta,
        base_number=base_number if delta else None,
        der=b"",  # written by crl_storage: the ORM's way costs seconds at a million entries
        sha256=hashlib.sha256(der).hexdigest(),
        entries=count,
        this_update=now,
        next_update=next_update,
    )
    crl_storage.store(row, der)
    series.last_number = number
    if not delta:
        series.last_full_number, series.last_full_at = number, now
    series.save(update_fields=["last_number", "last_full_number", "last_full_at"])
    _prune(ca, delta=delta)
    record(
        "ca.crl.published",
        domain=ca.domain,
        obj=ca,
        details={
            "number": number,
            "delta": delta,
            "base_number": row.base_number,
            "entries": count,
            "this_update": now.isoformat(),
            "next_update": next_update.isoformat(),
        },
    )
    return row


def _due(ca: CertificateAuthority, now: datetime) -> str | None:
    interval = timedelta(seconds=settings.ANCHORAGE_CRL_INTERVAL_SECONDS)
    period = timedelta(seconds=settings.ANCHORAGE_CRL_DELTA_SECONDS)
    series = CrlSeries.objects.filter(ca=ca).first()
    if series is None or series.last_full_at is None or series.last_full_at + interval <= now:
        return "complete"
    if series.pending_since is not None and series.pending_since <= now - _STALE:
        return "complete"  # the queued generation was lost
    last = Crl.objects.filter(ca=ca).order_by("-number").values_list("this_update").first()
    if last is None or last[0] + period <= now:
        return "delta"
    return None


def _delta_entries(ca: CertificateAuthority, since: datetime) -> tuple[list[bytes], int]:
    """Rows changed since the base was built: their entry now, or removeFromCRL for a
    released hold (§5.3.1: it appears only on delta CRLs)."""
    entries = []
    rows = Revocation.objects.filter(ca=ca, updated_at__gte=since)
    for serial, revoked_at, released_at, entry in rows.values_list(
        "serial", "revoked_at", "released_at", "entry"
    ):
        if released_at is not None:
            entry = crl.encode_entry(int(serial, 16), revoked_at, "removeFromCRL", None)
        entries.append(bytes(entry))
    return entries, len(entries)


def _prune(ca: CertificateAuthority, *, delta: bool) -> None:
    """Keep the latest two of the kind: the one served and the one a slow reader may still
    be fetching."""
    kind = Crl.objects.filter(ca=ca, delta=delta)
    keep = list(kind.order_by("-number").values_list("pk", flat=True)[:2])
    kind.exclude(pk__in=keep).delete()


def _publishing(now: datetime) -> QuerySet[CertificateAuthority]:
    return (
        CertificateAuthority.objects.exclude(kind=CertificateAuthority.Kind.UPSTREAM)
        .exclude(status=CertificateAuthority.Status.RETIRED)
        .exclude(key_ref="")
        .filter(not_after__gt=now)
        .select_related("domain")
    )


def _request(ca_id: int) -> None:
    """After a revocation committed: mark the series pending and queue a generation, unless
    one is queued that has not yet cleared the flag (its read comes after this commit).
    A series locked by a generation in progress may have read before this commit: queue."""
    now = certs.now()
    CrlSeries.objects.get_or_create(ca_id=ca_id)
    with transaction.atomic():
        series = CrlSeries.objects.select_for_update(skip_locked=True).filter(ca_id=ca_id).first()
        if series is not None:
            if series.pending_since is not None and series.pending_since > now - _STALE:
                return
            series.pending_since = now
            series.save(update_fields=["pending_since"])
    _enqueue(ca_id, countdown=settings.ANCHORAGE_CRL_DEBOUNCE_SECONDS)


def _enqueue(ca_id: int, *, countdown: int) -> None:
    from pki.tasks.crls import generate_crl

    try:
        generate_crl.apply_async((ca_id,), countdown=countdown)
    except Exception:  # a broker down must not fail a committed change; beat catches up
        logger.warning("could not queue the CRL of CA #%s; beat will publish it", ca_id)
