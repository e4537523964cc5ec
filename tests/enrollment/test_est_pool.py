"""EST's bounded pool against a live (threaded) server: a burst of enrollments, each held
slow inside issuance, fills ANCHORAGE_EST_MAX_CONCURRENT slots; the rest are shed at once
with 503 + Retry-After, while /healthz and the REST API keep answering. Both with the Redis
slot set (shared by every process) and with the per-process semaphore (no Redis)."""

from __future__ import annotations

import base64
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from accounts.roles import Role
from accounts.services import create_token
from enrollment import services
from enrollment.est import operations, pool
from pki.models import Domain, IssuedCertificate
from tests.enrollment.conftest import make_csr

SLOTS = 2
BURST = 10
HOLD = 2.0  # seconds each admitted enrollment stays inside issuance


def call(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), time.monotonic() - started


@pytest.mark.parametrize("backend", ["redis", "semaphore"])
@pytest.mark.django_db(transaction=True)
def test_a_burst_is_shed_with_503_while_health_and_api_answer(
    backend: str, live_server, settings, monkeypatch, domain: Domain, est_pki, make_user
) -> None:
    if backend == "semaphore":
        settings.REDIS_URL = ""
    else:
        assert settings.REDIS_URL, "run this test with REDIS_URL (the Redis slot set)"
    settings.ANCHORAGE_EST_MAX_CONCURRENT = SLOTS
    settings.ANCHORAGE_EST_RETRY_AFTER = 7
    _, secret = services.create_credential(domain, None, username="burst")
    auth = "Basic " + base64.b64encode(f"burst:{secret}".encode()).decode()
    _, token = create_token(make_user("audrey", Role.AUDITOR, domain), "t")

    inside = threading.Semaphore(0)
    real_issue = operations.issue

    def slow_issue(request: Any) -> Any:
        inside.release()
        time.sleep(HOLD)
        return real_issue(request)

    monkeypatch.setattr(operations, "issue", slow_issue)
    url = f"{live_server.url}/.well-known/est/alpha/simpleenroll"
    headers = {
        "Authorization": auth,
        "Content-Type": "application/pkcs10",
        "Content-Transfer-Encoding": "base64",
    }
    bodies = [make_csr(f"b{i}.alpha.test").b64 for i in range(BURST)]
    with ThreadPoolExecutor(BURST) as burst:
        first = [burst.submit(call, url, data=bodies[i], headers=headers) for i in range(SLOTS)]
        for _ in range(SLOTS):  # the pool is full: both slots are held inside issuance
            assert inside.acquire(timeout=10)
        rest = [burst.submit(call, url, data=b, headers=headers) for b in bodies[SLOTS:]]
        shed = [f.result() for f in rest]
        # Meanwhile the control plane answers at once.
        health = call(f"{live_server.url}/healthz")
        api = call(
            f"{live_server.url}/api/v1/devices",
            headers={"Authorization": f"Token {token}", "Accept": "application/json"},
        )
        admitted = [f.result() for f in first]

    assert [status for status, _, _ in admitted] == [200] * SLOTS
    assert [status for status, _, _ in shed] == [503] * (BURST - SLOTS)
    assert all(h.get("Retry-After") == "7" for _, h, _ in shed)
    assert all(elapsed < HOLD for _, _, elapsed in shed), "a shed request must not wait"
    assert health[0] == 200 and health[2] < HOLD
    assert api[0] == 200 and api[2] < HOLD
    assert IssuedCertificate.objects.count() == SLOTS

    # The slots are given back: the next enrollment is admitted.
    monkeypatch.setattr(operations, "issue", real_issue)
    status, _, _ = call(url, data=make_csr("after.alpha.test").b64, headers=headers)
    assert status == 200


def test_a_lost_redis_slot_ages_out(settings) -> None:
    """A process that died holding a slot never gives it back; the slot's age lets it go."""
    assert settings.REDIS_URL
    settings.ANCHORAGE_EST_MAX_CONCURRENT = 1
    settings.ANCHORAGE_EST_SLOT_TTL = 1
    client, _ = pool._client()
    client.delete(pool._KEY)
    client.zadd(pool._KEY, {"crashed-process": time.time()})
    with pytest.raises(pool.Saturated), pool.slot():
        pass
    time.sleep(1.2)
    with pool.slot():
        assert client.zcard(pool._KEY) == 1
    assert client.zcard(pool._KEY) == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_enrollments_get_one_certificate(
    live_server, settings, monkeypatch, domain: Domain, est_pki
) -> None:
    """Six retries of one CSR at once: one certificate, six answers of it. The first one
    dawdles after issuing, so the retries (waiting on its idempotency key) link the device
    certificate before it does: the race the link's insert must survive."""
    settings.ANCHORAGE_EST_MAX_CONCURRENT = 16
    real_issue = operations.issue

    def dawdling_issue(request: Any) -> Any:
        issued = real_issue(request)
        if issued.created:
            time.sleep(1.0)
        return issued

    monkeypatch.setattr(operations, "issue", dawdling_issue)
    _, secret = services.create_credential(domain, None, username="dup")
    headers = {
        "Authorization": "Basic " + base64.b64encode(f"dup:{secret}".encode()).decode(),
        "Content-Type": "application/pkcs10",
    }
    url = f"{live_server.url}/.well-known/est/alpha/simpleenroll"
    body = make_csr("dup.alpha.test").b64

    def enroll(_: int) -> tuple[int, bytes]:
        request = urllib.request.Request(url, data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()

    with ThreadPoolExecutor(6) as burst:
        answers = list(burst.map(enroll, range(6)))
    assert {status for status, _ in answers} == {200}
    assert len({payload for _, payload in answers}) == 1
    assert IssuedCertificate.objects.count() == 1
    from enrollment.models import DeviceCertificate

    assert DeviceCertificate.objects.count() == 1


def test_without_a_reachable_redis_the_process_bound_holds(settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.ANCHORAGE_EST_MAX_CONCURRENT = 1
    # Enrollments go on, bounded per process: a second slot at once is refused.
    with pool.slot(), pytest.raises(pool.Saturated), pool.slot():
        pass
    with pool.slot():
        pass
