"""Audited transactions per second: audit.record() (hash chain + outbox) against a plain
one-row transaction on the same database, with 1..N concurrent writers.

Every state change in Anchorage (issuance included) writes an audit event in its own
transaction; the hash chain is sealed after commit in batches (audit.chain.seal), so
writers do not queue on the chain head. This measures what auditing costs a hot path, and
how fast the sealer catches up with the backlog. Run against PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/anchorage_bench \
        .venv/bin/python bench/audit_append.py [--seconds 5] [--writers 1,2,4,8]

It creates (PostgreSQL) and migrates that database first and writes into it; never point it
at real data.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from audit.chain import seal  # noqa: E402
from audit.models import OutboxMessage  # noqa: E402
from audit.services import record  # noqa: E402
from config.celery import app as celery_app  # noqa: E402

celery_app.conf.update(broker_url="memory://", broker_transport_options={})


def plain() -> None:
    with transaction.atomic():
        OutboxMessage.objects.create(topic="bench.plain", payload={"n": 1})


def audited() -> None:
    with transaction.atomic():
        record("bench.audited", object_type="bench", object_id="1", details={"n": 1})


def rate(work: Callable[[], None], writers: int, seconds: float) -> float:
    done = [0] * writers
    stop = time.monotonic() + seconds
    barrier = threading.Barrier(writers)

    def loop(i: int) -> None:
        barrier.wait()
        while time.monotonic() < stop:
            work()
            done[i] += 1
        connection.close()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(writers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - started)


def ensure_database() -> None:
    if connection.vendor != "postgresql":
        return
    name = connection.settings_dict["NAME"]
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--writers", default="1,2,4,8")
    args = parser.parse_args()
    ensure_database()
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}, {args.seconds:.0f} s per figure")
    print(f"{'writers':>8} {'plain tx/s':>12} {'audited tx/s':>13} {'ratio':>6}")
    for writers in (int(w) for w in args.writers.split(",")):
        base = rate(plain, writers, args.seconds)
        chained = rate(audited, writers, args.seconds)
        print(f"{writers:>8} {base:>12.0f} {chained:>13.0f} {chained / base:>6.2f}")
    started = time.monotonic()
    sealed = seal()
    elapsed = time.monotonic() - started
    per_second = sealed / elapsed
    print(f"sealing the backlog: {sealed} events in {elapsed:.2f} s = {per_second:.0f} events/s")
    call_command("audit_verify", "--no-seal")


if __name__ == "__main__":
    main()
