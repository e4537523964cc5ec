"""The drift job in a real Celery worker (tests/worker.py), as beat runs it."""

from __future__ import annotations

import pytest

from tests import worker as celery_worker
from tests.estate.helpers import Estate, bulk_consumers, bulk_report
from truststores.estate import tasks
from truststores.estate.models import DriftFinding

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

worker = celery_worker.worker
wait_for = celery_worker.wait_for


def test_the_worker_records_drift(worker, estate: Estate) -> None:
    consumers = bulk_consumers(estate, 200, estate.public, "web")
    bulk_report(consumers[:150], [estate.fp("Public A"), estate.fp("Public B")])
    bulk_report(
        consumers[150:], [estate.fp("Public A"), estate.fp("Public B"), estate.fp("Old Root")]
    )
    sent = worker.send(tasks.detect_drift)
    wait_for(
        lambda: (
            f"truststores.estate.tasks.detect_drift[{sent.id}] succeeded" in worker.log.read_text()
        ),
        "the drift task",
        worker.log,
    )
    missing = DriftFinding.objects.filter(kind="missing", resolved_at__isnull=True)
    assert missing.count() == 150
    assert set(missing.values_list("fingerprint", flat=True)) == {estate.fp("Old Root")}
