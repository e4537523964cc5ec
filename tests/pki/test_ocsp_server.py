"""The lean responder (manage.py ocsp_responder) in a process of its own, on the test
database, with the real `openssl ocsp` client: answers from its cache, sees a revocation
within seconds, signs nonces and unknown serials off its event loop, keeps connections
alive, and answers tryLater when its pool is full."""

from __future__ import annotations

import base64
import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from accounts.roles import Role
from pki.crypto.keys import KeyAlgorithm
from pki.models import OcspResponse, Reason
from pki.services import hierarchy, profiles
from pki.services.revocation import revoke
from tests.net import free_port
from tests.pki.helpers import TLS_SERVER
from tests.pki.ocsp_helpers import (
    Leaf,
    fetch,
    issue_leaf,
    ocsp_request,
    openssl_ocsp,
    post,
    request_by_hash,
    response_status,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    user, host, port = db["USER"] or "postgres", db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


def start_responder(workers: int = 2, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    # A port nobody holds now: the responder binds with SO_REUSEPORT, so a fixed port shared
    # with another test run (a second checkout) would silently split the connections.
    port = free_port()
    child_env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "ANCHORAGE_KEK": settings.ANCHORAGE_KEK,
        "ANCHORAGE_LOG_LEVEL": "WARNING",
        **env,
    }
    command = [sys.executable, "manage.py", "ocsp_responder", "--bind", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        [*command, "--workers", str(workers)],
        cwd=ROOT,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return fetch(url + "/healthz")[0] == 200
        except OSError:
            return False

    if not wait_for(up, 20):
        process.kill()
        raise AssertionError(process.communicate()[0].decode(errors="replace"))
    return process, url


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        output = process.communicate(timeout=15)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        output = process.communicate()[0]
    print(output.decode(errors="replace"))  # shown when a test fails


@pytest.fixture
def setup(domain, make_user, make_csr, tmp_path) -> dict[str, Any]:
    root, issuing = hierarchy.create_local_pki(domain, KeyAlgorithm.EC_P256)
    profiles.save_profile(domain, "tls-server", TLS_SERVER, issuing)
    operator = make_user("olga", Role.OPERATOR, domain)
    leaf = issue_leaf(domain, root, issuing, operator, make_csr, tmp_path)
    return {"root": root, "issuing": issuing, "operator": operator, "leaf": leaf}


@pytest.fixture
def responder(setup) -> Iterator[str]:
    process, url = start_responder()
    yield url
    stop(process)


def _url(base: str, leaf: Leaf) -> str:
    return f"{base}/ocsp/{leaf.cert.ca.slug}/"


def test_good_then_revoked_within_seconds(responder, setup):
    leaf: Leaf = setup["leaf"]
    url = _url(responder, leaf)
    for _ in range(2):  # from the database, then from the cache
        result = openssl_ocsp(leaf, url, "-no_nonce")
        assert result.status == "good" and result.verified, result.stdout + result.stderr
    revoke(leaf.cert, Reason.KEY_COMPROMISE, actor=setup["operator"])
    # The responder polls updated_at every second: no restart, no cache expiry needed.
    # Each worker polls on its own clock, so ask until both answered (a new connection each
    # time lands on either worker).
    assert wait_for(lambda: openssl_ocsp(leaf, url, "-no_nonce").status == "revoked", 15)
    results = []

    def revoked_sha256() -> bool:
        results.append(openssl_ocsp(leaf, url, "-no_nonce", digest="-sha256"))
        return results[-1].status == "revoked"

    assert wait_for(revoked_sha256, 15), results[-1].stdout
    assert "Reason: keyCompromise" in results[-1].stdout and results[-1].verified
    # ...and then every worker does.
    assert wait_for(
        lambda: all(openssl_ocsp(leaf, url, "-no_nonce").status == "revoked" for _ in range(4))
    )


def test_issued_after_start_nonce_and_unknown(responder, setup, make_csr, tmp_path):
    leaf: Leaf = setup["leaf"]
    later = issue_leaf(
        setup["root"].domain, setup["root"], setup["issuing"], setup["operator"], make_csr,
        tmp_path, cn="later.alpha.test",
    )  # fmt: skip
    result = openssl_ocsp(later, _url(responder, later), "-nonce")
    assert result.status == "good" and result.verified, result.stdout + result.stderr
    assert "WARNING: no nonce" not in result.stdout + result.stderr
    der = ocsp_request(bytes(leaf.cert.der), bytes(setup["issuing"].certificate))
    status, body, _ = post(_url(responder, leaf), request_by_hash(der, serial=0xABCDEF))
    assert status == 200 and "UNKNOWN" in _cert_status(body)


def _cert_status(body: bytes) -> str:
    from cryptography.x509 import ocsp

    return str(ocsp.load_der_ocsp_response(body).certificate_status)


def test_get_keep_alive_and_errors(responder, setup):
    leaf: Leaf = setup["leaf"]
    der = ocsp_request(bytes(leaf.cert.der), bytes(setup["issuing"].certificate))
    stored = OcspResponse.objects.get(serial=leaf.cert.serial)
    port = int(responder.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    path = f"/ocsp/{leaf.cert.ca.slug}/" + base64.b64encode(der).decode()
    for _ in range(3):  # one connection, three answers
        conn.request("GET", path)
        answer = conn.getresponse()
        assert answer.status == 200 and answer.read() == bytes(stored.sha1)
        assert answer.getheader("Cache-Control", "").startswith("max-age=")
        assert answer.getheader("ETag") and answer.getheader("Expires")
        assert answer.getheader("Last-Modified")
    conn.request("POST", f"/ocsp/{leaf.cert.ca.slug}/", body=der[:-3])
    answer = conn.getresponse()
    assert answer.status == 400 and response_status(answer.read()) == "MALFORMED_REQUEST"
    conn.close()
    status, body, _ = post(f"{responder}/ocsp/{setup['root'].slug}/", der)
    assert status == 200 and response_status(body) == "UNAUTHORIZED"
    status, body, _ = post(f"{responder}/ocsp/nobody/", b"\x30\x03\x02\x01")
    assert status == 400 and response_status(body) == "MALFORMED_REQUEST"


def test_keep_alive_replays_until_the_response_changes(responder, setup):
    """A keep-alive POST seen before is answered from its rendered bytes; the poll that
    brings a revocation in ends that."""
    leaf: Leaf = setup["leaf"]
    der = ocsp_request(bytes(leaf.cert.der), bytes(setup["issuing"].certificate))
    port = int(responder.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    path = f"/ocsp/{leaf.cert.ca.slug}/"

    def status() -> str:
        conn.request("POST", path, body=der, headers={"Content-Type": "application/ocsp-request"})
        answer = conn.getresponse()
        assert answer.status == 200 and answer.getheader("Date")
        return _cert_status(answer.read())

    assert [status() for _ in range(3)] == ["OCSPCertStatus.GOOD"] * 3
    revoke(leaf.cert, Reason.CESSATION_OF_OPERATION, actor=setup["operator"])
    assert wait_for(lambda: status() == "OCSPCertStatus.REVOKED", 15)
    conn.close()


def test_full_pool_answers_try_later(setup):
    leaf: Leaf = setup["leaf"]
    process, url = start_responder(workers=1, ANCHORAGE_OCSP_MAX_PENDING="0")
    try:
        der = ocsp_request(bytes(leaf.cert.der), bytes(setup["issuing"].certificate))
        # A serial the cache has never seen needs the database: no room, so tryLater.
        status, body, headers = post(_url(url, leaf), request_by_hash(der, serial=0x777))
        assert status == 503 and response_status(body) == "TRY_LATER"
        assert headers["Retry-After"]
        # What it loaded at start is still answered.
        assert post(_url(url, leaf), der)[0] == 200
    finally:
        stop(process)


def test_stops_on_sigterm(setup):
    process, _ = start_responder(workers=2)
    started = time.monotonic()
    stop(process)
    assert process.returncode == 0 and time.monotonic() - started < 15
