"""ACME fixtures: a domain with a local PKI and ACME on (names under acme.test), a tiny
http-01 responder, and a way to run challenge checks in-process for protocol tests (the real
Celery worker is used by the client tests)."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from enrollment.acme import services as acme
from enrollment.acme import tasks
from pki.crypto import certs
from pki.crypto.keys import KeyAlgorithm
from pki.models import CertificateAuthority, Domain
from pki.services import cas, hierarchy
from tests import worker as celery_worker
from tests.acme.jws import AcmeClient, Key
from tests.net import free_port

SUFFIX = "acme.test"


def make_acme_domain(slug: str = "acme1", *, eab_required: bool = False) -> Domain:
    domain = Domain.objects.create(slug=slug, name=slug, enabled_protocols=["api"])
    _, issuing = hierarchy.create_local_pki(domain, KeyAlgorithm.EC_P256)
    acme.enable(domain, issuing, [SUFFIX, "localhost"], eab_required=eab_required)
    domain.refresh_from_db()
    return domain


@pytest.fixture
def acme_domain(db: None) -> Domain:
    return make_acme_domain()


@pytest.fixture
def client_for(acme_domain: Domain) -> Callable[..., AcmeClient]:
    def make(alg: str = "ES256", domain: Domain | None = None) -> AcmeClient:
        return AcmeClient(Client(), (domain or acme_domain).slug, Key.make(alg))

    return make


class _Responder(http.server.BaseHTTPRequestHandler):
    tokens: dict[str, str] = {}

    def do_GET(self) -> None:
        token = self.path.rsplit("/", 1)[-1]
        body = self.tokens.get(token)
        self.send_response(200 if body else 404)
        self.end_headers()
        if body:
            self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def _inline(challenge_id: int) -> None:
    tasks.validate_challenge(challenge_id)


@pytest.fixture
def http01(settings: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    """An http-01 responder on 127.0.0.1, and challenge checks run in this process."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Responder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.ANCHORAGE_ACME_HTTP01_PORT = server.server_address[1]  # type: ignore[attr-defined]
    settings.ANCHORAGE_ACME_RESOLVE = {SUFFIX: "127.0.0.1"}  # type: ignore[attr-defined]
    original = tasks.dispatcher
    tasks.dispatcher = _inline
    _Responder.tokens = {}
    try:
        yield SimpleNamespace(tokens=_Responder.tokens)
    finally:
        tasks.dispatcher = original
        server.shutdown()
        server.server_close()


# --- a live server whose challenge checks run in a real Celery worker ---------------

worker = celery_worker.worker
HTTP01_PORT = free_port()
TLSALPN01_PORT = free_port()
_PORTS = (
    "ANCHORAGE_ACME_HTTP01_PORT",
    "ANCHORAGE_ACME_TLSALPN01_PORT",
    "ANCHORAGE_ACME_RESOLVE",
    "ANCHORAGE_ACME_DNS_RESOLVER",
)


@pytest.fixture(scope="module")
def txt_records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A DNS server answering TXT questions from a file (lego's exec provider writes it)."""
    from tests.acme.dnsserver import TxtServer

    server = TxtServer(tmp_path_factory.mktemp("dns") / "records")
    yield server
    server.close()


@pytest.fixture(scope="module")
def acme_worker(request: pytest.FixtureRequest, txt_records: Any) -> Iterator[SimpleNamespace]:
    """The worker, started with the validation settings of this module's clients."""
    saved = {k: os.environ.get(k) for k in _PORTS}
    os.environ["ANCHORAGE_ACME_DNS_RESOLVER"] = f"127.0.0.1:{txt_records.port}"
    os.environ["ANCHORAGE_ACME_HTTP01_PORT"] = str(HTTP01_PORT)
    os.environ["ANCHORAGE_ACME_TLSALPN01_PORT"] = str(TLSALPN01_PORT)
    os.environ["ANCHORAGE_ACME_RESOLVE"] = f"{SUFFIX}=127.0.0.1"
    try:
        yield request.getfixturevalue("worker")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def acme_server(
    acme_worker: Any, txt_records: Any, live_server: Any, tmp_path: Path
) -> Iterator[SimpleNamespace]:
    domain = make_acme_domain("live")
    issuing = CertificateAuthority.objects.get(domain=domain, parent__isnull=False)
    root = tmp_path / "root.pem"
    root.write_text(certs.der_to_pem(cas.root_of(issuing)))

    def send(challenge_id: int) -> None:
        acme_worker.send(tasks.validate_challenge, challenge_id)

    original = tasks.dispatcher
    tasks.dispatcher = send
    try:
        yield SimpleNamespace(
            domain=domain,
            directory=f"{live_server.url}/acme/{domain.slug}/directory",
            root=root,
            port=HTTP01_PORT,
            tls_port=TLSALPN01_PORT,
            txt_records=txt_records,
            worker=acme_worker,
        )
    finally:
        tasks.dispatcher = original
