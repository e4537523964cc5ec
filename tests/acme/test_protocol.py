"""RFC 8555 end to end over the test client: directory, nonces, accounts with every key type,
orders, http-01 (checked by the task, in-process here), finalize through issue(), download."""

from __future__ import annotations

import pytest
from cryptography import x509

from audit.models import AuditEvent
from enrollment.acme.models import AcmeNonce, AcmeOrder
from pki.models import IssuedCertificate
from tests.acme.jws import AcmeClient, b64u, csr_der

pytestmark = pytest.mark.django_db


def complete(client: AcmeClient, http01, captured, *names: str) -> tuple[AcmeClient, dict]:
    """new order → answer every http-01 → ready → finalize; returns the finalized order."""
    response = client.new_order(*names)
    assert response.status_code == 201, response.content
    order_url = response["Location"]
    order = response.json()
    for authz_url in order["authorizations"]:
        authz = client.get(authz_url).json()
        challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
        http01.tokens[challenge["token"]] = f"{challenge['token']}.{client.key.thumbprint()}"
        with captured(execute=True):
            answered = client.post(challenge["url"], {})
        assert answered.status_code == 200, answered.content
        assert answered.json()["status"] == "processing"
        assert 'rel="up"' in answered["Link"]
    order = client.get(order_url).json()
    assert order["status"] == "ready", order
    done = client.post(order["finalize"], {"csr": b64u(csr_der(list(names)))})
    assert done.status_code == 200, done.content
    return client, done.json()


def test_directory_lists_the_resources_and_ari(client_for):
    client = client_for()
    response = client.http.get("/acme/acme1/directory")
    assert response.status_code == 200
    doc = response.json()
    for name in ("newNonce", "newAccount", "newOrder", "revokeCert", "renewalInfo"):
        assert doc[name].startswith("http://testserver/acme/acme1/")
    assert response["Replay-Nonce"]
    assert response["Link"] == '<http://testserver/acme/acme1/directory>;rel="index"'


def test_new_nonce_head_and_get_and_unknown_domain(client_for):
    client = client_for()
    head = client.http.head("/acme/acme1/new-nonce")
    get = client.http.get("/acme/acme1/new-nonce")
    assert (head.status_code, get.status_code) == (200, 204)
    assert head["Replay-Nonce"] != get["Replay-Nonce"]
    missing = client.http.get("/acme/nowhere/directory")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"
    assert missing.json()["type"] == "urn:ietf:params:acme:error:malformed"


def test_nonces_live_in_the_database_without_redis(client_for, settings):
    settings.REDIS_URL = ""
    client = client_for()
    nonce = client.nonce()
    assert AcmeNonce.objects.filter(value=nonce).exists()
    first = client.post(f"{client.base}/new-account", {}, use_jwk=True, nonce=nonce)
    assert first.status_code == 201
    assert not AcmeNonce.objects.filter(value=nonce).exists()  # single use
    again = client.post(f"{client.base}/new-account", {}, use_jwk=True, nonce=nonce)
    assert again.json()["type"] == "urn:ietf:params:acme:error:badNonce"


@pytest.mark.parametrize("alg", ["ES256", "ES384", "RS256", "EdDSA"])
def test_every_key_type_registers_orders_and_gets_a_certificate(
    alg, client_for, http01, django_capture_on_commit_callbacks
):
    client = client_for(alg)
    created = client.register(contact=["mailto:ops@acme.test"])
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "valid"
    assert created.json()["orders"].endswith("/orders")
    again = client.register()
    assert again.status_code == 200 and again["Location"] == client.kid

    _, order = complete(client, http01, django_capture_on_commit_callbacks, "www.acme.test")
    assert order["status"] == "valid"
    pem = client.get(order["certificate"])
    assert pem.status_code == 200
    assert pem["Content-Type"] == "application/pem-certificate-chain"
    chain = x509.load_pem_x509_certificates(pem.content)
    assert len(chain) == 2  # the leaf and the issuing CA
    leaf = chain[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["www.acme.test"]
    issued = IssuedCertificate.objects.get(serial=f"{leaf.serial_number:X}")
    assert issued.protocol == "acme"
    assert issued.requester.startswith("acme-account:")
    assert AuditEvent.objects.filter(action="ca.issue", object_id=str(issued.pk)).exists()

    # A retried finalize changes nothing: the same order, the same one certificate.
    retry = client.post(order["finalize"], {"csr": b64u(csr_der(["www.acme.test"]))})
    assert retry.status_code == 200
    assert retry.json()["certificate"] == order["certificate"]
    assert IssuedCertificate.objects.filter(protocol="acme").count() == 1


def test_only_return_existing_and_account_update(client_for):
    client = client_for()
    missing = client.post(f"{client.base}/new-account", {"onlyReturnExisting": True}, use_jwk=True)
    assert missing.status_code == 400
    assert missing.json()["type"] == "urn:ietf:params:acme:error:accountDoesNotExist"
    assert client.register().status_code == 201
    found = client.post(f"{client.base}/new-account", {"onlyReturnExisting": True}, use_jwk=True)
    assert found.status_code == 200 and found["Location"] == client.kid
    updated = client.post(client.kid, {"contact": ["mailto:new@acme.test"]})
    assert updated.json()["contact"] == ["mailto:new@acme.test"]
    bad = client.post(client.kid, {"contact": ["mailto:not an address"]})
    assert bad.json()["type"] == "urn:ietf:params:acme:error:invalidContact"
    gone = client.post(client.kid, {"status": "deactivated"})
    assert gone.json()["status"] == "deactivated"
    after = client.new_order("a.acme.test")
    assert after.status_code == 403
    assert after.json()["type"] == "urn:ietf:params:acme:error:unauthorized"


def test_failed_http01_makes_the_order_invalid(
    client_for, http01, django_capture_on_commit_callbacks
):
    client = client_for()
    client.register()
    order = client.new_order("nobody.acme.test").json()
    authz = client.get(order["authorizations"][0]).json()
    challenge = authz["challenges"][0]
    http01.tokens[challenge["token"]] = "the wrong key authorization"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(challenge["url"], {})
    checked = client.get(challenge["url"]).json()
    assert checked["status"] == "invalid"
    assert checked["error"]["type"] == "urn:ietf:params:acme:error:incorrectResponse"
    order = client.get(order["finalize"].removesuffix("/finalize")).json()
    assert order["status"] == "invalid"
    early = client.post(order["finalize"], {"csr": b64u(csr_der(["nobody.acme.test"]))})
    assert early.status_code == 403
    assert early.json()["type"] == "urn:ietf:params:acme:error:orderNotReady"


def test_orders_outside_the_profile_are_rejected(client_for):
    client = client_for()
    client.register()
    response = client.new_order("www.example.com")
    assert response.status_code == 400
    assert response.json()["type"] == "urn:ietf:params:acme:error:rejectedIdentifier"
    assert not AcmeOrder.objects.exists()


def test_enabling_acme_is_audited_and_idempotent(acme_domain):
    from enrollment.acme import services
    from pki.models import CertificateAuthority, Profile

    assert acme_domain.protocol_enabled("acme")
    assert AuditEvent.objects.filter(action="pki.domain.protocols_changed").count() == 1
    assert AuditEvent.objects.filter(action="acme.enabled").count() == 1
    issuing = CertificateAuthority.objects.get(domain=acme_domain, parent__isnull=False)
    services.enable(acme_domain, issuing, ["acme.test", "localhost"])
    assert AuditEvent.objects.filter(action="acme.enabled").count() == 1
    profile = Profile.objects.get(domain=acme_domain, name="acme-tls-server")
    assert profile.current_version == 1  # unchanged, so no new version
