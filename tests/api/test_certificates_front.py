"""POST /api/v1/certificates at the door: checked input and permissions, 503 with Retry-After
when the domain cannot sign (no active CA, an upstream CA that fails)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from pki.models import CertificateAuthority, IssuedCertificate
from pki.services import issuance
from pki.services.ca_driver import UpstreamFailed

pytestmark = pytest.mark.django_db

CSR = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"


@pytest.fixture
def operator_client(domain, make_user, api_client_for) -> APIClient:
    return api_client_for(make_user("op", Role.OPERATOR, domain))


def post(client: APIClient, body: object):
    return client.post("/api/v1/certificates", body, format="json")


def test_missing_fields_are_named(operator_client):
    response = post(operator_client, {"domain": "alpha"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"profile", "csr"}


def test_unknown_domain_is_a_400(operator_client):
    response = post(operator_client, {"domain": "nope", "profile": "tls-server", "csr": CSR})
    assert response.status_code == 400
    assert response.json()["detail"] == "domain: no such domain"


def test_ra_officer_may_not_issue(domain, make_user, api_client_for):
    client = api_client_for(make_user("ra", Role.RA_OFFICER, domain))
    response = post(client, {"domain": "alpha", "profile": "tls-server", "csr": CSR})
    assert response.status_code == 403
    assert "certs.issue" in response.json()["detail"]


def test_operator_of_another_domain_may_not_issue(domain, other_domain, make_user, api_client_for):
    client = api_client_for(make_user("op-b", Role.OPERATOR, other_domain))
    response = post(client, {"domain": "alpha", "profile": "tls-server", "csr": CSR})
    assert response.status_code == 403


def test_api_disabled_in_the_domain_is_refused(domain, operator_client):
    domain.enabled_protocols = ["est"]
    domain.save()
    response = post(operator_client, {"domain": "alpha", "profile": "tls-server", "csr": CSR})
    assert response.status_code == 403
    assert "REST API is disabled" in response.json()["detail"]


def test_malformed_csr_is_a_400(operator_client):
    response = post(operator_client, {"domain": "alpha", "profile": "tls-server", "csr": CSR})
    assert response.status_code == 400
    assert "csr" in response.json()["detail"]


def test_unknown_profile_is_a_400(pki, operator_client, make_csr):
    body = {"domain": "alpha", "profile": "nope", "csr": make_csr().decode()}
    response = post(operator_client, body)
    assert response.status_code == 400
    assert "no profile 'nope'" in response.json()["detail"]


def test_no_active_ca_is_a_503_with_retry_after(pki, operator_client, make_csr):
    _, issuing = pki
    issuing.status = CertificateAuthority.Status.RETIRED
    issuing.save()
    body = {"domain": "alpha", "profile": "tls-server", "csr": make_csr().decode()}
    response = post(operator_client, body)
    assert response.status_code == 503
    assert response.json()["code"] == "issuance_unavailable"
    assert "retired" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0
    assert not IssuedCertificate.objects.exists()


def test_failing_upstream_ca_is_a_503_with_retry_after(pki, operator_client, make_csr, monkeypatch):
    def refuse(*args, **kwargs):
        raise UpstreamFailed("upstream CA pca: throttled")

    monkeypatch.setattr(issuance, "sign", refuse)
    body = {"domain": "alpha", "profile": "tls-server", "csr": make_csr().decode()}
    response = post(operator_client, body)
    assert response.status_code == 503
    assert response.json() == {"detail": "upstream CA pca: throttled", "code": "upstream_failed"}
    assert int(response["Retry-After"]) > 0
    assert not IssuedCertificate.objects.exists()
