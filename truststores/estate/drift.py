"""Drift: each consumer's last report against its list's current version (seed, level 4:
"verification that the deployed trust state matches the authoritative list").

- missing: a CA on the list the consumer did not report;
- extra: a CA the consumer reported that is not on the list;
- stale_report: no report, or none within ANCHORAGE_ESTATE_STALE_HOURS (missing / extra are
  still computed from the last report, the best knowledge there is).

Set-based: the lists' fingerprints are read once, then consumers in id ranges of `chunk`,
three queries per range (consumers, their reports, their open findings) and at most three
writes (new findings, still-open ones touched, gone ones resolved). A finding is opened
once and resolved once; each consumer whose drift opened or resolved raises one outbox
event (estate.drift.detected / estate.drift.resolved) through the audit log."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from audit.services import Entry, record_many
from pki.models import Domain
from truststores.estate.models import (
    Consumer,
    DriftFinding,
    ObservedState,
    TrustList,
    TrustListEntry,
)

LOCK_KEY = "estate:drift:running"
Key = tuple[int, str, str]  # consumer id, kind, fingerprint
STALE = DriftFinding.Kind.STALE.value
MISSING = DriftFinding.Kind.MISSING.value
EXTRA = DriftFinding.Kind.EXTRA.value


@dataclass
class DriftSummary:
    consumers: int = 0
    opened: int = 0
    resolved: int = 0
    open: int = 0
    skipped: bool = False


def run(now: datetime | None = None, *, chunk: int = 5000) -> DriftSummary:
    """One pass over the estate; skipped (not queued twice) while another pass runs."""
    if not cache.add(LOCK_KEY, "1", timeout=3600):
        return DriftSummary(skipped=True)
    try:
        return compute(now or timezone.now(), chunk=chunk)
    finally:
        cache.delete(LOCK_KEY)


def list_fingerprints() -> dict[int, tuple[int, frozenset[str]]]:
    """Per trust list id: its current version id and that version's fingerprints."""
    versions = dict(
        TrustList.objects.filter(current_version__isnull=False).values_list(
            "id", "current_version_id"
        )
    )
    prints: dict[int, set[str]] = defaultdict(set)
    entries = TrustListEntry.objects.filter(version_id__in=list(versions.values()))
    for version_id, fingerprint in entries.values_list("version_id", "ca__fingerprint"):
        prints[version_id].add(fingerprint)
    return {lid: (vid, frozenset(prints[vid])) for lid, vid in versions.items()}


def expected_findings(
    observed: list[str] | None,
    wanted: frozenset[str],
    last_report: datetime | None,
    stale_before: datetime,
) -> set[tuple[str, str]]:
    """(kind, fingerprint) of one consumer: the comparison itself, without the database."""
    found: set[tuple[str, str]] = set()
    if last_report is None or last_report < stale_before:
        found.add((STALE, ""))
    if observed is None:
        return found
    have = set(observed)
    found.update((MISSING, fp) for fp in wanted - have)
    found.update((EXTRA, fp) for fp in have - wanted)
    return found


def compute(now: datetime, *, chunk: int = 5000) -> DriftSummary:
    stale_before = now - timedelta(hours=settings.ANCHORAGE_ESTATE_STALE_HOURS)
    lists = list_fingerprints()
    domains = Domain.objects.in_bulk()
    summary = DriftSummary()
    last_id = 0
    while True:
        rows = list(
            Consumer.objects.filter(id__gt=last_id)
            .order_by("id")
            .values_list("id", "domain_id", "trust_list_id", "last_report_at")[:chunk]
        )
        if not rows:
            break
        low, high = last_id, rows[-1][0]
        last_id = high
        summary.consumers += len(rows)
        with transaction.atomic():
            _chunk(rows, low, high, lists, domains, now, stale_before, summary)
    return summary


def _chunk(
    rows: Sequence[tuple[int, int, int | None, datetime | None]],
    low: int,
    high: int,
    lists: dict[int, tuple[int, frozenset[str]]],
    domains: dict[int, Domain],
    now: datetime,
    stale_before: datetime,
    summary: DriftSummary,
) -> None:
    observed = dict(
        ObservedState.objects.filter(consumer_id__gt=low, consumer_id__lte=high).values_list(
            "consumer_id", "fingerprints"
        )
    )
    open_rows = DriftFinding.objects.filter(
        consumer_id__gt=low, consumer_id__lte=high, resolved_at__isnull=True
    ).values_list("id", "consumer_id", "kind", "fingerprint")
    open_by_key: dict[Key, int] = {(c, k, f): pk for pk, c, k, f in open_rows}
    wanted: dict[Key, tuple[int, int]] = {}  # key → (domain id, version id)
    for consumer_id, domain_id, list_id, last_report in rows:
        if list_id is None or list_id not in lists:
            continue
        version_id, prints = lists[list_id]
        for kind, fp in expected_findings(
            observed.get(consumer_id), prints, last_report, stale_before
        ):
            wanted[(consumer_id, kind, fp)] = (domain_id, version_id)
    new = [key for key in wanted if key not in open_by_key]
    kept = [pk for key, pk in open_by_key.items() if key in wanted]
    gone = {key: pk for key, pk in open_by_key.items() if key not in wanted}
    DriftFinding.objects.bulk_create(
        [
            DriftFinding(
                domain_id=wanted[key][0],
                consumer_id=key[0],
                kind=key[1],
                fingerprint=key[2],
                version_id=wanted[key][1],
                first_seen=now,
                last_seen=now,
            )
            for key in new
        ],
        batch_size=2000,
    )
    if kept:
        DriftFinding.objects.filter(consumer_id__gt=low, consumer_id__lte=high, id__in=kept).update(
            last_seen=now
        )
    if gone:
        DriftFinding.objects.filter(id__in=list(gone.values())).update(resolved_at=now)
    summary.opened += len(new)
    summary.resolved += len(gone)
    summary.open += len(wanted)
    domain_of = {consumer_id: domain_id for consumer_id, domain_id, _, _ in rows}
    entries = _events("estate.drift.detected", new, domain_of, domains)
    entries += _events("estate.drift.resolved", list(gone), domain_of, domains)
    if entries:
        record_many(entries)


def _events(
    action: str, keys: list[Key], domain_of: dict[int, int], domains: dict[int, Domain]
) -> list[Entry]:
    """One event per consumer: which fingerprints went missing / extra / stale."""
    by_consumer: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for consumer_id, kind, fp in keys:
        by_consumer[consumer_id][kind].append(fp)
    return [
        Entry(
            action,
            domain=domains.get(domain_of.get(consumer_id, 0)),
            object_type="estate.consumer",
            object_id=str(consumer_id),
            details={kind: sorted(fps) for kind, fps in kinds.items()},
        )
        for consumer_id, kinds in sorted(by_consumer.items())
    ]
