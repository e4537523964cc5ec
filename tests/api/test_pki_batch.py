"""POST /api/v1/certificates/batch: several certificates in one call, all or none."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from audit.models import AuditEvent
from pki.models import IssuedCertificate
from tests.api.conftest import new_csr
from tests.pki.helpers import assert_verifies

pytestmark = pytest.mark.django_db

URL = "/api/v1/certificates/batch"


@pytest.fixture
def client(domain, make_user, api_client_for) -> APIClient:
    return api_client_for(make_user("olga", Role.OPERATOR, domain))


def post(client: APIClient, csrs: list[bytes], key: str | None = None):
    body = {"domain": "alpha", "profile": "tls-server", "csrs": [c.decode() for c in csrs]}
    headers = {"Idempotency-Key": key} if key else None
    return client.post(URL, body, format="json", headers=headers)


def test_a_batch_issues_every_certificate(pki, client, tmp_path):
    root, _ = pki
    csrs = [new_csr(f"h{i}.alpha.test") for i in range(3)]
    response = post(client, csrs)
    assert response.status_code == 201, response.content
    issued = response.json()["certificates"]
    assert [c["subject"] for c in issued] == [f"CN=h{i}.alpha.test" for i in range(3)]
    assert len({c["serial"] for c in issued}) == 3
    for item in issued:
        assert_verifies(
            tmp_path,
            trusted=[bytes(root.certificate)],
            untrusted=item["chain"],
            target=item["certificate"],
            extra=("-x509_strict",),
        )
    assert AuditEvent.objects.filter(action="ca.issue").count() == 3


def test_a_retried_batch_returns_the_same_certificates(pki, client):
    csrs = [new_csr(f"r{i}.alpha.test") for i in range(2)]
    first = post(client, csrs, key="batch-1")
    again = post(client, csrs, key="batch-1")
    assert (first.status_code, again.status_code) == (201, 200)
    serials = [c["serial"] for c in first.json()["certificates"]]
    assert [c["serial"] for c in again.json()["certificates"]] == serials
    assert IssuedCertificate.objects.count() == 2
    other = post(client, [new_csr("x.alpha.test"), new_csr("y.alpha.test")], key="batch-1")
    assert other.status_code == 409


def test_one_refused_item_refuses_the_batch_and_is_audited(pki, client):
    csrs = [new_csr("ok.alpha.test"), new_csr("www.example.com"), new_csr("ok2.alpha.test")]
    response = post(client, csrs)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "profile_denied"
    assert any(r.startswith("item 1: DNS name www.example.com") for r in body["reasons"])
    assert not IssuedCertificate.objects.exists()
    denied = AuditEvent.objects.get(action="issuance.profile_evaluated")
    assert denied.details["decision"] == "deny"


@pytest.mark.parametrize(
    ("csrs", "reason"),
    [
        ([], "csrs"),
        (
            ["-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"],
            "item 0: csr",
        ),
        (["x"] * 101, "csrs"),
    ],
)
def test_malformed_batches_are_400(pki, client, csrs, reason):
    body = {"domain": "alpha", "profile": "tls-server", "csrs": csrs}
    response = client.post(URL, body, format="json")
    assert response.status_code == 400
    assert reason in str(response.json())
    assert not IssuedCertificate.objects.exists()


def test_an_ra_officer_cannot_issue_a_batch(pki, domain, make_user, api_client_for):
    officer = api_client_for(make_user("rita", Role.RA_OFFICER, domain))
    assert post(officer, [new_csr("a.alpha.test")]).status_code == 403
    assert not IssuedCertificate.objects.exists()
