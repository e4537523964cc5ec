"""Drift computation for 10,000 consumers against 5 trust lists of 150 CAs each (issue 10).

The drift job (truststores.estate.drift) against the same comparison in pure Python sets
over the same data already in memory (no database): the baseline is what the comparison
itself costs, so the ratio is what reading and writing findings adds. Three passes of the
job: the first opens findings (and their outbox events), the second finds nothing new
(the steady state beat sees every ANCHORAGE_ESTATE_DRIFT_SECONDS), the third after a tenth
of the estate caught up (findings resolved). Run against PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/anchorage_bench \
        .venv/bin/python bench/estate_drift.py [--consumers 10000] [--lists 5] [--cas 150]

It creates (PostgreSQL) and migrates that database and replaces its estate data; never
point it at real data. The CA rows carry random fingerprints (drift reads only those).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from audit.models import OutboxMessage  # noqa: E402
from config.celery import app as celery_app  # noqa: E402
from pki.models import Domain  # noqa: E402
from truststores.estate import drift  # noqa: E402
from truststores.estate.models import (  # noqa: E402
    Consumer,
    DriftFinding,
    ObservedState,
    TrustedCA,
    TrustList,
    TrustListEntry,
    TrustListVersion,
)

celery_app.conf.update(broker_url="memory://", broker_transport_options={})


def ensure_database() -> None:
    if connection.vendor != "postgresql":
        return
    name = connection.settings_dict["NAME"]
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')


def build(consumers: int, lists: int, cas: int) -> dict[int, list[str]]:
    """The estate; returns each consumer's reported fingerprints (None: never reported)."""
    DriftFinding.objects.all().delete()
    ObservedState.objects.all().delete()
    Consumer.objects.all().delete()
    TrustList.objects.update(current_version=None)
    TrustListEntry.objects.all().delete()
    TrustListVersion.objects.all().delete()
    TrustList.objects.all().delete()
    TrustedCA.objects.all().delete()
    domain, _ = Domain.objects.get_or_create(slug="bench-estate", defaults={"name": "Bench"})
    user, _ = User.objects.get_or_create(username="bench-estate")
    rng = random.Random(10)  # noqa: S311 (a repeatable estate, no secret)
    now = timezone.now()
    list_prints: list[list[str]] = []
    for n in range(lists):
        rows = [
            TrustedCA(
                domain=domain,
                fingerprint=secrets.token_hex(32),
                der=b"bench",
                subject=f"CN=Bench {n}-{i}",
                not_after=now + timedelta(days=3650),
            )
            for i in range(cas)
        ]
        TrustedCA.objects.bulk_create(rows)
        trust_list = TrustList.objects.create(
            domain=domain, scope="internal", name=f"List {n}", slug=f"list-{n}"
        )
        version = TrustListVersion.objects.create(trust_list=trust_list, number=1, created_by=user)
        TrustListEntry.objects.bulk_create([TrustListEntry(version=version, ca=ca) for ca in rows])
        trust_list.current_version = version
        trust_list.save()
        list_prints.append([ca.fingerprint for ca in rows])
    lists_db = list(TrustList.objects.filter(domain=domain).order_by("slug"))
    Consumer.objects.bulk_create(
        [
            Consumer(
                domain=domain,
                name=f"c-{i:06d}",
                kind="service",
                category="application",
                distribution="config_management",
                trust_list=lists_db[i % lists],
            )
            for i in range(consumers)
        ],
        batch_size=2000,
    )
    states, reported = [], {}
    stranger = [secrets.token_hex(32) for _ in range(5)]
    for consumer in Consumer.objects.filter(domain=domain).order_by("id"):
        prints = list(list_prints[int(consumer.name[2:]) % lists])
        roll = rng.random()
        if roll < 0.05:
            continue  # never reported: stale
        if roll < 0.15:
            prints = prints[3:]  # missing three
        elif roll < 0.20:
            prints += stranger[:2]  # two extra
        reported[consumer.pk] = prints
        states.append(ObservedState(consumer=consumer, fingerprints=prints, reported_at=now))
    ObservedState.objects.bulk_create(states, batch_size=2000)
    Consumer.objects.filter(pk__in=list(reported)).update(last_report_at=now)
    return reported


def baseline(reported: dict[int, list[str]]) -> float:
    """The same comparison over the same data, in memory: consumers per second."""
    lists = drift.list_fingerprints()
    rows = list(Consumer.objects.values_list("id", "trust_list_id", "last_report_at"))
    stale_before = timezone.now() - timedelta(hours=48)
    started = time.perf_counter()
    previous: set[tuple[int, str, str]] = set()
    found: set[tuple[int, str, str]] = set()
    for consumer_id, list_id, last in rows:
        _, prints = lists[list_id]
        for kind, fp in drift.expected_findings(
            reported.get(consumer_id), prints, last, stale_before
        ):
            found.add((consumer_id, kind, fp))
    _ = (found - previous, previous - found, found & previous)
    return len(rows) / (time.perf_counter() - started)


def timed_pass() -> tuple[float, drift.DriftSummary]:
    started = time.perf_counter()
    summary = drift.run()
    return time.perf_counter() - started, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--consumers", type=int, default=10_000)
    parser.add_argument("--lists", type=int, default=5)
    parser.add_argument("--cas", type=int, default=150)
    args = parser.parse_args()
    ensure_database()
    call_command("migrate", verbosity=0)
    reported = build(args.consumers, args.lists, args.cas)
    print(f"estate: {args.consumers} consumers, {args.lists} lists of {args.cas} CAs")
    base = baseline(reported)
    events_before = OutboxMessage.objects.filter(topic__startswith="estate.drift").count()
    first, s1 = timed_pass()
    events = OutboxMessage.objects.filter(topic__startswith="estate.drift").count() - events_before
    steady, s2 = timed_pass()
    # A tenth of the estate catches up: its reports now match the list.
    catch_up = list(
        ObservedState.objects.select_related("consumer__trust_list__current_version")[
            : args.consumers // 10
        ]
    )
    lists = drift.list_fingerprints()
    for state in catch_up:
        list_id = state.consumer.trust_list_id
        assert list_id is not None
        state.fingerprints = sorted(lists[list_id][1])
    ObservedState.objects.bulk_update(catch_up, ["fingerprints"], batch_size=2000)
    third, s3 = timed_pass()
    n = args.consumers
    print(f"{'pass':44} {'consumers/s':>12} {'seconds':>8}  findings")
    print(f"{'baseline: pure Python sets, no database':44} {base:12.0f} {n / base:8.3f}")
    print(
        f"{'drift job, first pass (opens findings)':44} {n / first:12.0f} {first:8.3f}  "
        f"opened {s1.opened}, {events} outbox events"
    )
    print(
        f"{'drift job, steady state (nothing new)':44} {n / steady:12.0f} {steady:8.3f}  "
        f"open {s2.open}"
    )
    print(
        f"{'drift job, a tenth caught up':44} {n / third:12.0f} {third:8.3f}  "
        f"resolved {s3.resolved}"
    )
    print(f"steady state / baseline: {(n / steady) / base:.2f}")


if __name__ == "__main__":
    main()
