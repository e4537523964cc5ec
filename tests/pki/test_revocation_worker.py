"""A revocation reaches the CRL through a real Celery worker (tests/worker.py): the worker
builds the CRL against the test database, and `openssl crl` reads the serial from what
/crl/<ca>.crl serves."""

from __future__ import annotations

import subprocess

import pytest
from django.test import Client

from accounts.roles import Role
from pki.models import Crl
from pki.services import revocation
from pki.services.issuance import IssueRequest, issue
from pki.tasks.crls import generate_crl
from tests import worker as celery_worker
from tests.pki.helpers import as_openssl

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

worker = celery_worker.worker
wait_for = celery_worker.wait_for


def test_the_worker_publishes_a_crl_listing_the_revoked_serial(
    worker, pki, domain, make_user, make_csr, tmp_path
) -> None:
    _, issuing = pki
    operator = make_user("olga", Role.OPERATOR, domain)
    request = IssueRequest(
        domain=domain, profile="tls-server", csr=make_csr(), protocol="api", user=operator
    )
    cert = issue(request).certificate
    revocation.revoke(cert, "keyCompromise", actor=operator)
    worker.send(generate_crl, issuing.pk)
    wait_for(
        lambda: Crl.objects.filter(ca=issuing, delta=False, entries__gte=1).exists(),
        "the worker's CRL",
        worker.log,
    )
    response = Client().get(f"/crl/{issuing.slug}.crl")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    path = tmp_path / "ca.crl"
    path.write_bytes(response.content)
    text = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(path), "-noout", "-text"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert f"Serial Number: {as_openssl(cert.serial)}" in text
    assert "Key Compromise" in text
