"""/api/v1/acme-eab-keys and /api/v1/acme-renewal-flags: operators make EAB keys (the HMAC
key shown once) and flag certificates or CAs for early renewal; other roles and other
domains are refused."""

from __future__ import annotations

import pytest

from accounts.roles import Role
from enrollment.acme import ari
from enrollment.acme.models import ExternalAccountKey, RenewalFlag
from pki.models import CertificateAuthority, IssuedCertificate
from pki.services.issuance import IssueRequest, issue
from tests.acme.jws import csr_der

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(make_user, acme_domain, api_client_for):
    return api_client_for(make_user("olga", Role.OPERATOR, acme_domain))


@pytest.fixture
def ra_officer(make_user, acme_domain, api_client_for):
    return api_client_for(make_user("rachel", Role.RA_OFFICER, acme_domain))


def test_operator_makes_lists_and_revokes_eab_keys(operator, ra_officer):
    made = operator.post(
        "/api/v1/acme-eab-keys", {"domain": "acme1", "comment": "team a"}, format="json"
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["hmac_key"] and body["kid"] and body["domain"] == "acme1"
    listed = operator.get("/api/v1/acme-eab-keys").json()["results"]
    assert [k["kid"] for k in listed] == [body["kid"]]
    assert "hmac_key" not in listed[0]
    assert ra_officer.get("/api/v1/acme-eab-keys").json()["results"] == []
    refused = ra_officer.post("/api/v1/acme-eab-keys", {"domain": "acme1"}, format="json")
    assert refused.status_code == 403
    revoked = operator.post(
        f"/api/v1/acme-eab-keys/{body['id']}/revoke", {"comment": "left"}, format="json"
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert ExternalAccountKey.objects.get().revoked_at is not None


def test_eab_key_bad_bodies(operator):
    for bad in ({}, {"domain": "nowhere"}, {"domain": "acme1", "extra": 1}):
        assert operator.post("/api/v1/acme-eab-keys", bad, format="json").status_code == 400


def test_operator_flags_a_certificate_and_the_window_moves(operator, ra_officer, acme_domain):
    cert = issue(
        IssueRequest(
            domain=acme_domain,
            profile="acme-tls-server",
            csr=csr_der(["api.acme.test"]),
            protocol="acme",
            requester="test",
        )
    ).certificate
    assert ari.window(cert) == ari.scheduled(cert)
    refused = ra_officer.post(
        "/api/v1/acme-renewal-flags", {"domain": "acme1", "certificate": cert.serial}, format="json"
    )
    assert refused.status_code == 403
    made = operator.post(
        "/api/v1/acme-renewal-flags",
        {"domain": "acme1", "certificate": cert.serial, "explanation_url": "https://x.test/y"},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["certificate"] == cert.serial
    window = ari.window(cert)
    assert window.explanation_url == "https://x.test/y"
    assert window.end <= RenewalFlag.objects.get().created_at


def test_flag_a_whole_ca_and_bad_flags(operator, acme_domain):
    ca = CertificateAuthority.objects.get(domain=acme_domain, parent__isnull=False)
    made = operator.post(
        "/api/v1/acme-renewal-flags", {"domain": "acme1", "ca": ca.slug}, format="json"
    )
    assert made.status_code == 201 and made.json()["ca"] == ca.slug
    for bad in (
        {"domain": "acme1"},
        {"domain": "acme1", "ca": ca.slug, "certificate": "01"},
        {"domain": "acme1", "certificate": "ABCDEF"},
        {"domain": "acme1", "ca": "nope"},
        {"domain": "acme1", "ca": ca.slug, "explanation_url": "not a url"},
    ):
        response = operator.post("/api/v1/acme-renewal-flags", bad, format="json")
        assert response.status_code == 400, (bad, response.content)
    assert not IssuedCertificate.objects.exists()
