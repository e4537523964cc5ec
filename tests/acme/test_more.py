"""Key rollover (RFC 8555 §7.3.5), authorization deactivation (§7.5.2), IP identifiers
(RFC 8738) and the tls-alpn-01 certificate check (RFC 8737 §3)."""

from __future__ import annotations

import datetime
import hashlib
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from enrollment.acme.models import AcmeAccount
from pki.crypto.jose import tls_alpn01_problem
from tests.acme.jws import Key, b64u
from tests.acme.test_protocol import complete

pytestmark = pytest.mark.django_db
ERR = "urn:ietf:params:acme:error:"


def test_key_rollover(client_for):
    client = client_for()
    client.register()
    new = Key.make("ES256")
    url = f"{client.base}/key-change"
    assert client.directory()["keyChange"] == url
    payload = b64u(json.dumps({"account": client.kid, "oldKey": client.key.jwk()}).encode())
    inner = _resign(new, {"alg": new.alg, "jwk": new.jwk(), "url": url}, payload)
    response = client.post(url, inner)
    assert response.status_code == 200, response.content
    account = AcmeAccount.objects.get()
    assert account.thumbprint == new.thumbprint()
    old_key = client.key
    client.key = new
    assert client.post(client.kid, None).status_code == 200  # the new key works
    client.key = old_key
    refused = client.post(client.kid, None)  # the old one does not
    assert refused.status_code == 400 and refused.json()["type"] == ERR + "malformed"


def test_key_rollover_refuses_a_wrong_old_key_and_a_taken_key(client_for):
    alice, bob = client_for(), client_for()
    alice.register()
    bob.register()
    url = f"{alice.base}/key-change"
    new = Key.make()
    wrong_old = _resign(
        new,
        {"alg": new.alg, "jwk": new.jwk(), "url": url},
        b64u(json.dumps({"account": alice.kid, "oldKey": bob.key.jwk()}).encode()),
    )
    assert alice.post(url, wrong_old).json()["type"] == ERR + "unauthorized"
    taken = _resign(
        bob.key,
        {"alg": bob.key.alg, "jwk": bob.key.jwk(), "url": url},
        b64u(json.dumps({"account": alice.kid, "oldKey": alice.key.jwk()}).encode()),
    )
    assert alice.post(url, taken).status_code == 409


def _resign(key: Key, protected: dict, payload_b64: str) -> dict:
    protected_b64 = b64u(json.dumps(protected).encode())
    signature = key.sign(f"{protected_b64}.{payload_b64}".encode())
    return {"protected": protected_b64, "payload": payload_b64, "signature": b64u(signature)}


def test_authorization_deactivation_invalidates_the_order(client_for):
    client = client_for()
    client.register()
    order = client.new_order("deact.acme.test")
    authz_url = order.json()["authorizations"][0]
    response = client.post(authz_url, {"status": "deactivated"})
    assert response.json()["status"] == "deactivated"
    assert client.get(order["Location"]).json()["status"] == "invalid"


def test_ip_identifier_issues_an_ip_certificate(
    client_for, http01, django_capture_on_commit_callbacks
):
    client = client_for()
    client.register()
    response = client.post(
        f"{client.base}/new-order", {"identifiers": [{"type": "ip", "value": "127.0.0.1"}]}
    )
    assert response.status_code == 201, response.content
    authz = client.get(response.json()["authorizations"][0]).json()
    assert authz["identifier"] == {"type": "ip", "value": "127.0.0.1"}
    challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
    http01.tokens[challenge["token"]] = f"{challenge['token']}.{client.key.thumbprint()}"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(challenge["url"], {})
    assert client.get(response["Location"]).json()["status"] == "ready"
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    der = csr.public_bytes(serialization.Encoding.DER)
    done = client.post(response.json()["finalize"], {"csr": b64u(der)})
    assert done.json()["status"] == "valid", done.content
    leaf = x509.load_pem_x509_certificates(client.get(done.json()["certificate"]).content)[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_ip_outside_the_profile_is_rejected(client_for):
    client = client_for()
    client.register()
    response = client.post(
        f"{client.base}/new-order", {"identifiers": [{"type": "ip", "value": "10.0.0.1"}]}
    )
    assert response.json()["type"] == ERR + "rejectedIdentifier"


def test_wildcards_outside_the_profile_are_rejected(client_for):
    client = client_for()
    client.register()
    response = client.new_order("*.example.com")
    assert response.status_code == 400
    assert response.json()["type"] == ERR + "rejectedIdentifier"


def _alpn_cert(names: list[str], digest: bytes, *, critical: bool = True) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme")]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31"), b"\x04\x20" + digest
            ),
            critical,
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_tls_alpn01_certificate_check():
    digest = hashlib.sha256(b"token.thumb").digest()
    assert (
        tls_alpn01_problem(_alpn_cert(["a.acme.test"], digest), "a.acme.test", False, digest)
        is None
    )
    wrong = hashlib.sha256(b"other").digest()

    def why(der: bytes) -> str:
        return str(tls_alpn01_problem(der, "a.acme.test", False, digest))

    assert "SHA-256" in why(_alpn_cert(["a.acme.test"], wrong))
    assert "critical" in why(_alpn_cert(["a.acme.test"], digest, critical=False))
    assert "exactly" in why(_alpn_cert(["a.acme.test", "b.acme.test"], digest))
    assert "unreadable" in why(b"\x30\x03abc")


def test_tls_alpn01_without_a_server_fails_the_challenge(
    client_for, http01, settings, django_capture_on_commit_callbacks
):
    from tests.acme.conftest import free_port

    settings.ANCHORAGE_ACME_TLSALPN01_PORT = free_port()  # nothing listens there
    client = client_for()
    client.register()
    order = client.new_order("noalpn.acme.test").json()
    authz = client.get(order["authorizations"][0]).json()
    challenge = next(c for c in authz["challenges"] if c["type"] == "tls-alpn-01")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(challenge["url"], {})
    checked = client.get(challenge["url"]).json()
    assert checked["status"] == "invalid"
    assert checked["error"]["type"] == ERR + "tls"


def test_complete_still_works_after_rollover(
    client_for, http01, django_capture_on_commit_callbacks
):
    client = client_for()
    client.register()
    _, order = complete(client, http01, django_capture_on_commit_callbacks, "roll.acme.test")
    assert order["status"] == "valid"


@pytest.fixture
def txt_server(settings):
    from tests.acme.dnsserver import TxtServer

    server = TxtServer()
    settings.ANCHORAGE_ACME_DNS_RESOLVER = f"127.0.0.1:{server.port}"
    yield server
    server.close()


def _dns01(client, txt_server, captured, order: dict, *, digest: str | None = None) -> dict:
    authz = client.get(order["authorizations"][0]).json()
    challenge = next(c for c in authz["challenges"] if c["type"] == "dns-01")
    key_authorization = f"{challenge['token']}.{client.key.thumbprint()}"
    value = digest or b64u(hashlib.sha256(key_authorization.encode()).digest())
    txt_server.records[f"_acme-challenge.{authz['identifier']['value']}"] = ["other", value]
    with captured(execute=True):
        client.post(challenge["url"], {})
    return client.get(challenge["url"]).json()


def test_dns01_proves_a_wildcard(
    client_for, http01, txt_server, django_capture_on_commit_callbacks
):
    client = client_for()
    client.register()
    response = client.new_order("*.wild.acme.test")
    assert response.status_code == 201, response.content
    order = response.json()
    authz = client.get(order["authorizations"][0]).json()
    assert authz["wildcard"] is True
    assert authz["identifier"]["value"] == "wild.acme.test"
    assert [c["type"] for c in authz["challenges"]] == ["dns-01"]
    checked = _dns01(client, txt_server, django_capture_on_commit_callbacks, order)
    assert checked["status"] == "valid", checked
    assert client.get(response["Location"]).json()["status"] == "ready"
    from tests.acme.jws import csr_der

    done = client.post(order["finalize"], {"csr": b64u(csr_der(["*.wild.acme.test"]))})
    assert done.json()["status"] == "valid", done.content
    leaf = x509.load_pem_x509_certificates(client.get(done.json()["certificate"]).content)[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["*.wild.acme.test"]


def test_dns01_with_a_wrong_or_missing_record_fails(
    client_for, http01, txt_server, django_capture_on_commit_callbacks
):
    client = client_for()
    client.register()
    order = client.new_order("txt.acme.test").json()
    checked = _dns01(client, txt_server, django_capture_on_commit_callbacks, order, digest="no")
    assert checked["status"] == "invalid"
    assert checked["error"]["type"] == ERR + "incorrectResponse"
    nothing = client.new_order("none.acme.test").json()
    authz = client.get(nothing["authorizations"][0]).json()
    challenge = next(c for c in authz["challenges"] if c["type"] == "dns-01")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(challenge["url"], {})
    assert client.get(challenge["url"]).json()["status"] == "invalid"


def test_ip_orders_offer_no_dns01(client_for):
    client = client_for()
    client.register()
    order = client.post(
        f"{client.base}/new-order", {"identifiers": [{"type": "ip", "value": "127.0.0.2"}]}
    ).json()
    types = {c["type"] for c in client.get(order["authorizations"][0]).json()["challenges"]}
    assert types == {"http-01", "tls-alpn-01"}


def test_revoke_by_account_holding_authorizations_for_every_name(
    client_for, http01, django_capture_on_commit_callbacks
):
    from pki.models import IssuedCertificate

    owner, authorized, stranger = client_for(), client_for(), client_for()
    for c in (owner, authorized, stranger):
        c.register()
    _, order = complete(owner, http01, django_capture_on_commit_callbacks, "shared.acme.test")
    pem = owner.get(order["certificate"]).content
    der = x509.load_pem_x509_certificates(pem)[0].public_bytes(serialization.Encoding.DER)
    url = f"{owner.base}/revoke-cert"
    refused = stranger.post(url, {"certificate": b64u(der)})
    assert refused.status_code == 403
    assert refused.json()["type"] == ERR + "unauthorized"
    # Another account proves control of the name; then it may revoke (§7.6).
    complete(authorized, http01, django_capture_on_commit_callbacks, "shared.acme.test")
    done = authorized.post(url, {"certificate": b64u(der), "reason": 1})
    assert done.status_code == 200, done.content
    leaf = x509.load_der_x509_certificate(der)
    revoked = IssuedCertificate.objects.get(serial=f"{leaf.serial_number:X}")
    assert revoked.status == IssuedCertificate.Status.REVOKED
    again = authorized.post(url, {"certificate": b64u(der)})
    assert again.json()["type"] == ERR + "alreadyRevoked"
    bad_reason = owner.post(url, {"certificate": b64u(der), "reason": 6})
    assert bad_reason.json()["type"] == ERR + "badRevocationReason"


def test_a_broker_down_at_commit_is_survived_and_the_sweep_sends_the_check(
    client_for, http01, django_capture_on_commit_callbacks
):
    from enrollment.acme import tasks
    from enrollment.acme.models import AcmeChallenge

    def broker_down(challenge_id: int) -> None:
        raise ConnectionError("broker down")

    client = client_for()
    client.register()
    order = client.new_order("sweep.acme.test")
    authz = client.get(order.json()["authorizations"][0]).json()
    challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
    http01.tokens[challenge["token"]] = f"{challenge['token']}.{client.key.thumbprint()}"
    working = tasks.dispatcher
    tasks.dispatcher = broker_down
    try:
        with django_capture_on_commit_callbacks(execute=True):
            answered = client.post(challenge["url"], {})
    finally:
        tasks.dispatcher = working
    assert answered.status_code == 200  # the intent is recorded; no 500
    assert AcmeChallenge.objects.get(token=challenge["token"]).status == "processing"
    assert tasks.requeue_stalled(older_than_seconds=3600) == 0  # not stalled yet
    assert tasks.requeue_stalled(older_than_seconds=0) == 1
    assert client.get(challenge["url"]).json()["status"] == "valid"
    assert client.get(order["Location"]).json()["status"] == "ready"
