"""Generations racing on PostgreSQL, each in its own thread and connection: the CrlSeries row
lock makes them take turns, so CRL numbers are distinct and a higher number never carries
older content."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from pki.crypto import crl
from pki.models import Crl, CrlSeries
from pki.services import crls

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6


def test_racing_generations_get_increasing_numbers(pki):
    _, issuing = pki
    barrier = threading.Barrier(THREADS)
    made: list[object] = [None] * THREADS

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            made[i] = crls.generate(issuing, delta=i % 2 == 1)
        except Exception as exc:
            made[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    published = [m for m in made if isinstance(m, Crl)]
    assert len(published) == THREADS, made

    numbers = sorted(m.number for m in published)
    assert numbers == list(range(1, THREADS + 1))
    # thisUpdate never goes back as the number grows, and every CRL says its own number.
    updates = [m.this_update for m in sorted(published, key=lambda m: m.number)]
    assert updates == sorted(updates)
    for m in Crl.objects.filter(ca=issuing):
        assert crl.info(bytes(m.der)).number == m.number
    assert CrlSeries.objects.get(ca=issuing).last_number == THREADS
