"""bootstrap_demo's EST credential: printed as est.username / est.password, the same on every
run, and it enrolls at the demo domain's EST endpoint (what the contract check does)."""

from __future__ import annotations

import base64
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from enrollment.models import EnrollmentCredential
from tests.enrollment.conftest import certs_of, make_csr, post

pytestmark = pytest.mark.django_db


def bootstrap() -> dict[str, Any]:
    out = StringIO()
    call_command("bootstrap_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_demo_est_credential_is_stable_and_enrolls() -> None:
    first, second = bootstrap(), bootstrap()
    est = first["est"]
    assert est == second["est"]
    assert est["username"] and len(est["password"]) >= 43
    assert EnrollmentCredential.objects.filter(username=est["username"]).count() == 1
    stored = EnrollmentCredential.objects.get(username=est["username"])
    assert est["password"] not in stored.digest  # only the digest is kept

    client = Client(raise_request_exception=False)
    auth = "Basic " + base64.b64encode(f"{est['username']}:{est['password']}".encode()).decode()
    csr = make_csr("est1.demo.test")
    response = post(client, "/.well-known/est/demo/simpleenroll", csr.b64, auth)
    assert response.status_code == 200, response.content
    assert certs_of(response.content)
    raw = f"{est['username']}:wrong{est['password']}".encode()
    wrong = "Basic " + base64.b64encode(raw).decode()
    assert post(client, "/.well-known/est/demo/simpleenroll", csr.b64, wrong).status_code == 401
