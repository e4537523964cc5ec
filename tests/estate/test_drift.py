"""Drift over an estate of a few hundred consumers: missing, extra and stale findings are
opened once, kept while they last, resolved when they go, and raise outbox events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import OutboxMessage
from tests.estate.helpers import Estate, bulk_consumers, bulk_report
from truststores.estate import drift
from truststores.estate.models import Consumer, DriftFinding

pytestmark = pytest.mark.django_db


def open_findings(**kw):
    return DriftFinding.objects.filter(resolved_at__isnull=True, **kw)


def test_drift_over_a_few_hundred_consumers(estate: Estate, settings) -> None:
    settings.ANCHORAGE_ESTATE_STALE_HOURS = 24
    public = bulk_consumers(estate, 240, estate.public, "web")
    internal = bulk_consumers(estate, 120, estate.internal, "api")
    full = [estate.fp("Public A"), estate.fp("Public B"), estate.fp("Old Root")]
    in_line, lagging, extra, silent = public[:150], public[150:200], public[200:220], public[220:]
    bulk_report(in_line, full)
    bulk_report(lagging, full[:2])  # lags: does not hold Old Root yet
    bulk_report(extra, [*full, estate.fp("Corp Root")])  # trusts an internal root too
    old = timezone.now() - timedelta(hours=30)
    bulk_report(internal, [estate.fp("Corp Root"), estate.fp("Corp 2")], when=old)

    with CaptureQueriesContext(connection) as queries:
        summary = drift.run(chunk=100)
    # Set-based: a handful of queries per chunk of 100, not per consumer.
    assert summary.consumers == 360
    assert len(queries) < 10 + 8 * 4, len(queries)

    assert open_findings(kind="missing").count() == 50
    assert set(open_findings(kind="missing").values_list("fingerprint", flat=True)) == {
        estate.fp("Old Root")
    }
    assert set(open_findings(kind="extra").values_list("consumer__name", flat=True)) == {
        c.name for c in extra
    }
    stale = set(open_findings(kind="stale_report").values_list("consumer_id", flat=True))
    # Never reported (20 web) and reported 30 h ago (120 api).
    assert stale == {c.pk for c in silent} | {c.pk for c in internal}
    assert summary.opened == 50 + 20 + 140
    assert not open_findings(consumer__in=in_line).exists()
    detected = OutboxMessage.objects.filter(topic="estate.drift.detected")
    assert detected.count() == 50 + 20 + 140  # one per consumer with new drift
    sample = detected.filter(payload__object_id=str(lagging[0].pk)).get()
    assert sample.payload["details"] == {"missing": [estate.fp("Old Root")]}

    # A second pass changes nothing: findings kept, last_seen moves, no new events.
    first_seen = open_findings(consumer=lagging[0]).get().first_seen
    again = drift.run(chunk=1000)
    assert (again.opened, again.resolved) == (0, 0)
    finding = open_findings(consumer=lagging[0]).get()
    assert finding.first_seen == first_seen and finding.last_seen > first_seen
    assert OutboxMessage.objects.filter(topic="estate.drift.detected").count() == 210

    # The laggards catch up and the extras drop the internal root: resolved, with events.
    bulk_report(lagging, full)
    bulk_report(extra, full)
    third = drift.run()
    assert third.resolved == 70 and third.opened == 0
    assert not open_findings(kind__in=["missing", "extra"]).exists()
    assert DriftFinding.objects.filter(kind="missing", resolved_at__isnull=False).count() == 50
    resolved = OutboxMessage.objects.filter(topic="estate.drift.resolved")
    assert resolved.count() == 70


def test_a_consumer_that_changes_list_is_compared_with_its_new_list(estate: Estate) -> None:
    [consumer] = bulk_consumers(estate, 1, estate.public, "mover")
    bulk_report([consumer], [estate.fp("Corp Root"), estate.fp("Corp 2")])
    drift.run()
    assert open_findings(consumer=consumer, kind="missing").count() == 3
    assert open_findings(consumer=consumer, kind="extra").count() == 2
    Consumer.objects.filter(pk=consumer.pk).update(trust_list=estate.internal)
    summary = drift.run()
    assert summary.resolved == 5
    assert not open_findings(consumer=consumer).exists()
    # Without a list there is nothing to compare: every finding resolves.
    bulk_report([consumer], [])
    drift.run()
    assert open_findings(consumer=consumer).count() == 2
    Consumer.objects.filter(pk=consumer.pk).update(trust_list=None)
    drift.run()
    assert not open_findings(consumer=consumer).exists()


def test_a_running_pass_is_not_run_twice(estate: Estate) -> None:
    from django.core.cache import cache

    cache.add(drift.LOCK_KEY, "1", timeout=60)
    try:
        assert drift.run().skipped
    finally:
        cache.delete(drift.LOCK_KEY)
    assert not drift.run().skipped
