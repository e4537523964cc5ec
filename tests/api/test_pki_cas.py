"""/api/v1/cas: the CAs of the domains the caller can see, their URLs and chains; never a
key reference."""

from __future__ import annotations

import json

import pytest
from cryptography import x509

from accounts.roles import Role
from approvals import services as approvals
from approvals.tasks import run_action
from pki.crypto import certs
from pki.crypto.keys import KeyAlgorithm
from pki.models import CertificateAuthority
from pki.services import cas, ceremonies, hierarchy

pytestmark = pytest.mark.django_db

URL = "/api/v1/cas"


@pytest.fixture
def client(domain, make_user, api_client_for):
    return api_client_for(make_user("aude", Role.AUDITOR, domain))


@pytest.fixture
def beta_cas(other_domain):
    return hierarchy.create_local_pki(other_domain, KeyAlgorithm.EC_P256)


def run_ceremony(domain, make_user, operation: str, params: dict) -> dict:
    """One ceremony through the services, threshold 1, run as the engine's task would."""
    proposer = make_user(f"prop-{operation}", Role.OPERATOR, domain)
    custodian = make_user(f"cust-{operation}", Role.CUSTODIAN, domain)
    ceremony = ceremonies.start(
        domain,
        operation,
        purpose=f"test {operation}",
        threshold=1,
        custodians=[custodian],
        started_by=proposer,
        params=params,
    )
    approvals.approve(ceremony.approval_id, custodian)
    assert run_action(ceremony.approval_id) == "done"
    ceremony.refresh_from_db()
    return ceremony.result


def test_list_shows_the_domains_cas_without_key_references(pki, client, beta_cas):
    root, issuing = pki
    response = client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert [c["slug"] for c in body["results"]] == [root.slug, issuing.slug]
    assert not any({"key_ref", "upstream"} & set(c) for c in body["results"])
    text = json.dumps(body)
    for ca in (root, issuing):
        assert ca.key_ref and ca.key_ref not in text


def test_detail_carries_the_certificate_urls_and_parent(pki, client):
    root, issuing = pki
    response = client.get(f"{URL}/{issuing.slug}")
    assert response.status_code == 200
    body = response.json()
    assert "key_ref" not in body
    assert body["slug"] == issuing.slug
    assert body["domain"] == "alpha"
    assert body["kind"] == "intermediate"
    assert body["status"] == "active"
    assert body["parent"] == root.slug
    assert body["superseded_by"] is None
    assert body["key_backend"] == "default"
    assert body["key_algorithm"] == issuing.key_algorithm
    assert body["serial"] == issuing.serial
    assert body["fingerprint"] == issuing.fingerprint
    assert body["path_length"] == 0
    assert body["urls"] == cas.urls(issuing.slug)
    assert body["certificate"] == certs.der_to_pem(bytes(issuing.certificate))
    assert body["cross_certificates"] == []
    assert client.get(f"{URL}/{root.slug}").json()["parent"] is None


def test_chain_is_pem_ca_first_root_last(pki, client):
    root, issuing = pki
    response = client.get(f"{URL}/{issuing.slug}/chain")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-pem-file"
    chain = x509.load_pem_x509_certificates(response.content)
    assert [c.subject for c in chain] == [
        x509.load_der_x509_certificate(bytes(ca.certificate)).subject for ca in (issuing, root)
    ]
    root_chain = client.get(f"{URL}/{root.slug}/chain/")
    assert len(x509.load_pem_x509_certificates(root_chain.content)) == 1


def test_rotation_and_cross_certificates_show(pki, domain, client, make_user):
    root, issuing = pki
    new = run_ceremony(domain, make_user, "rotate", {"ca": issuing.slug})["ca"]
    old = client.get(f"{URL}/{issuing.slug}").json()
    assert (old["status"], old["superseded_by"]) == ("superseded", new)
    assert client.get(f"{URL}?status=active").json()["count"] == 2

    run_ceremony(domain, make_user, "create_root", {"slug": "alpha-root-2"})
    run_ceremony(domain, make_user, "cross_sign", {"ca": root.slug, "issuer": "alpha-root-2"})
    crossed = client.get(f"{URL}/{root.slug}").json()["cross_certificates"]
    assert len(crossed) == 1
    assert crossed[0]["issuer"] == "alpha-root-2"
    cross = x509.load_pem_x509_certificate(crossed[0]["certificate"].encode())
    assert cross.subject == x509.load_der_x509_certificate(bytes(root.certificate)).subject
    roots = client.get(f"{URL}?kind=root").json()["results"]
    assert {c["slug"] for c in roots} == {root.slug, "alpha-root-2"}
    assert CertificateAuthority.objects.get(slug="alpha-root-2").ceremony_id is not None


def test_another_domains_ca_is_a_404_and_not_listed(pki, client, beta_cas):
    _, beta_issuing = beta_cas
    for path in (f"{URL}/{beta_issuing.slug}", f"{URL}/{beta_issuing.slug}/chain"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"
    slugs = {c["slug"] for c in client.get(URL).json()["results"]}
    assert beta_issuing.slug not in slugs
    assert client.get(f"{URL}?domain=beta").json()["count"] == 0


def test_someone_without_a_role_sees_no_ca(pki, make_user, api_client_for):
    stranger = api_client_for(make_user("stranger"))
    assert stranger.get(URL).json()["count"] == 0
    assert stranger.get(f"{URL}/{pki[1].slug}").status_code == 404


def test_cas_are_read_only(pki, client):
    assert client.post(URL, {"slug": "x"}, format="json").status_code == 405
    assert client.delete(f"{URL}/{pki[1].slug}").status_code == 405
