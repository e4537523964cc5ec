"""POST /api/v1/certificates/<serial>/revoke and /release: the body DESIGN.md names, the
bad bodies, who may, and other domains' certificates."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from audit.models import AuditEvent
from pki.models import IssuedCertificate, Revocation
from pki.services.issuance import IssueRequest, issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(domain, make_user):
    return make_user("olga", Role.OPERATOR, domain)


@pytest.fixture
def client(operator, api_client_for) -> APIClient:
    return api_client_for(operator)


@pytest.fixture
def cert(pki, domain, operator, make_csr) -> IssuedCertificate:
    request = IssueRequest(
        domain=domain, profile="tls-server", csr=make_csr(), protocol="api", user=operator
    )
    return issue(request).certificate


def url(serial: str, action: str = "revoke") -> str:
    return f"/api/v1/certificates/{serial}/{action}"


def test_revoke_with_the_contract_body(client, cert) -> None:
    response = client.post(url(cert.serial), {"reason": "keyCompromise"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "revoked"
    assert body["revocation"]["reason"] == "keyCompromise"
    assert body["revocation"]["requester"] == "user:olga"
    assert client.get(f"/api/v1/certificates/{cert.serial}").json()["revocation"]["reason"] == (
        "keyCompromise"
    )


def test_an_empty_body_revokes_as_unspecified_and_a_lower_case_serial_works(client, cert) -> None:
    response = client.post(url(cert.serial.lower()), {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["revocation"]["reason"] == "unspecified"


def test_revoking_twice_answers_200_and_writes_once(client, cert) -> None:
    for reason in ("superseded", "keyCompromise"):
        response = client.post(url(cert.serial), {"reason": reason}, format="json")
        assert response.status_code == 200
    assert response.json()["revocation"]["reason"] == "superseded"
    assert AuditEvent.objects.filter(action="ca.certificate.revoked").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "removeFromCRL"}, "reason"),
        ({"reason": "stolen"}, "reason"),
        ({"reason": 1}, "reason"),
        ({"reasn": "keyCompromise"}, "reasn"),
        ({"reason": "keyCompromise", "invalidity_date": "yesterday"}, "invalidity_date"),
    ],
)
def test_bad_bodies_answer_400_naming_the_field(client, cert, body, field) -> None:
    response = client.post(url(cert.serial), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.content.decode()
    assert not Revocation.objects.exists()


def test_a_future_invalidity_date_answers_400(client, cert) -> None:
    body = {"reason": "keyCompromise", "invalidity_date": "2999-01-01T00:00:00Z"}
    response = client.post(url(cert.serial), body, format="json")
    assert response.status_code == 400
    assert "future" in response.json()["detail"]


def test_a_body_that_is_not_json_answers_400(client, cert) -> None:
    response = client.post(url(cert.serial), "reason=keyCompromise", content_type="text/plain")
    assert response.status_code in (400, 415)
    assert not Revocation.objects.exists()


def test_an_ra_officer_may_not_revoke(cert, domain, make_user, api_client_for) -> None:
    officer = api_client_for(make_user("rachel", Role.RA_OFFICER, domain))
    response = officer.post(url(cert.serial), {"reason": "keyCompromise"}, format="json")
    assert response.status_code == 403
    assert "certs.revoke" in response.json()["detail"]
    cert.refresh_from_db()
    assert cert.status == "valid"


def test_another_domains_certificate_is_unknown(
    cert, other_domain, make_user, api_client_for
) -> None:
    stranger = api_client_for(make_user("otto", Role.OPERATOR, other_domain))
    response = stranger.post(url(cert.serial), {"reason": "keyCompromise"}, format="json")
    assert response.status_code == 404
    assert client_missing(stranger).status_code == 404


def client_missing(client: APIClient):
    return client.post(url("ABCDEF"), {"reason": "keyCompromise"}, format="json")


def test_a_hold_is_released(client, cert) -> None:
    held = client.post(url(cert.serial), {"reason": "certificateHold"}, format="json")
    assert held.json()["status"] == "revoked"
    released = client.post(url(cert.serial, "release"), format="json")
    assert released.status_code == 200, released.content
    assert released.json()["status"] == "valid"
    assert released.json()["revocation"] is None


def test_releasing_what_is_not_on_hold_answers_409(client, cert) -> None:
    response = client.post(url(cert.serial, "release"), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "not_on_hold"
    client.post(url(cert.serial), {"reason": "keyCompromise"}, format="json")
    assert client.post(url(cert.serial, "release"), format="json").status_code == 409
