"""Fifty clients retrying one issuance at once, with one Idempotency-Key and one CSR, each
in its own thread and database connection: one certificate, fifty answers naming it.

On PostgreSQL the idempotency key's unique index makes the racers wait for the first
transaction and then find its certificate; on SQLite the IMMEDIATE transactions serialise
them (config/settings.py gives each a busy timeout).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from accounts.roles import Role
from accounts.services import create_token
from audit.models import AuditEvent
from pki.models import IdempotencyKey, IssuedCertificate

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 50


def test_fifty_concurrent_retries_issue_one_certificate(pki, domain, make_user, make_csr):
    _, key = create_token(make_user("olga", Role.OPERATOR, domain), "test")
    body = json.dumps({"domain": "alpha", "profile": "tls-server", "csr": make_csr().decode()})
    headers = {"Authorization": f"Token {key}", "Idempotency-Key": "deploy-2031-05-01"}
    barrier = threading.Barrier(THREADS)
    answers: list[Any] = [None] * THREADS

    def worker(i: int) -> None:
        client = Client(raise_request_exception=False, headers=headers)
        try:
            barrier.wait(timeout=30)
            response = client.post("/api/v1/certificates", body, content_type="application/json")
            answers[i] = (response.status_code, json.loads(response.content))
        except Exception as exc:
            answers[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(t.is_alive() for t in threads), "a thread hung"

    failures = [a for a in answers if not isinstance(a, tuple) or a[0] not in (200, 201)]
    assert not failures, failures[:3]
    statuses = [status for status, _ in answers]
    assert statuses.count(201) == 1, statuses
    assert statuses.count(200) == THREADS - 1
    serials = {answer["serial"] for _, answer in answers}
    assert len(serials) == 1
    cert = IssuedCertificate.objects.get()
    assert serials == {cert.serial}
    assert IdempotencyKey.objects.get().certificate_id == cert.pk
    assert AuditEvent.objects.filter(action="ca.issue").count() == 1
