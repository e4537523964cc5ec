"""The error cases of RFC 8555 §6.7, each with its problem document and never a 500: a bad
signature, a reused nonce (badNonce with a fresh Replay-Nonce), a wrong `url`, an unknown
account, a CSR naming something outside the order, and malformed requests."""

from __future__ import annotations

import json

import pytest

from enrollment.acme.models import AcmeAccount
from pki.models import IssuedCertificate
from tests.acme.jws import Key, b64u, csr_der, jws
from tests.acme.test_protocol import complete

pytestmark = pytest.mark.django_db

ERR = "urn:ietf:params:acme:error:"


def problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response["Replay-Nonce"]
    doc = response.json()
    assert doc["type"] == ERR + kind, doc
    assert doc["detail"]
    return doc


def test_bad_signature_is_refused(client_for):
    client = client_for()
    body = jws(client.key, f"{client.base}/new-account", {}, client.nonce())
    body["signature"] = b64u(Key.make().sign(b"something else"))
    problem(client.post(f"{client.base}/new-account", None, body=body), 400, "malformed")
    assert not AcmeAccount.objects.exists()


def test_signature_by_another_key_than_the_embedded_jwk(client_for):
    client = client_for()
    other = Key.make()
    body = jws(other, f"{client.base}/new-account", {}, client.nonce())
    protected = json.loads(__import__("base64").urlsafe_b64decode(body["protected"] + "=="))
    protected["jwk"] = client.key.jwk()
    forged = b64u(json.dumps(protected).encode())
    body = {
        "protected": forged,
        "payload": body["payload"],
        "signature": b64u(other.sign(f"{forged}.{body['payload']}".encode())),
    }
    problem(client.post(f"{client.base}/new-account", None, body=body), 400, "malformed")


def test_reused_nonce_gets_bad_nonce_with_a_fresh_one(client_for):
    client = client_for()
    nonce = client.nonce()
    assert (
        client.post(f"{client.base}/new-account", {}, use_jwk=True, nonce=nonce).status_code == 201
    )
    again = client.post(f"{client.base}/new-account", {}, use_jwk=True, nonce=nonce)
    problem(again, 400, "badNonce")
    fresh = again["Replay-Nonce"]
    assert fresh != nonce
    # The fresh nonce works (what a client does after badNonce, §6.5).
    assert (
        client.post(f"{client.base}/new-account", {}, use_jwk=True, nonce=fresh).status_code == 200
    )


def test_unknown_nonce_is_bad_nonce(client_for):
    client = client_for()
    problem(
        client.post(f"{client.base}/new-account", {}, use_jwk=True, nonce="never-issued-nonce"),
        400,
        "badNonce",
    )


def test_wrong_url_in_the_protected_header(client_for):
    client = client_for()
    client.register()
    wrong = client.post(
        f"{client.base}/new-order",
        {"identifiers": [{"type": "dns", "value": "a.acme.test"}]},
        signed_url=f"{client.base}/new-account",
    )
    problem(wrong, 403, "unauthorized")


def test_unknown_account(client_for):
    client = client_for()
    client.kid = f"{client.base}/acct/no-such-account"
    problem(client.new_order("a.acme.test"), 400, "accountDoesNotExist")
    client.kid = "http://elsewhere.test/acme/acme1/acct/x"
    problem(client.new_order("a.acme.test"), 400, "accountDoesNotExist")


def test_someone_elses_order_is_unauthorized(client_for):
    alice, mallory = client_for(), client_for()
    alice.register()
    mallory.register()
    order_url = alice.new_order("a.acme.test")["Location"]
    problem(mallory.get(order_url), 403, "unauthorized")


def test_csr_outside_the_order_is_bad_csr(client_for, http01, django_capture_on_commit_callbacks):
    client = client_for()
    client.register()
    response = client.new_order("one.acme.test")
    order_url = response["Location"]
    finalize = response.json()["finalize"]
    authz = client.get(response.json()["authorizations"][0]).json()
    token = authz["challenges"][0]["token"]
    http01.tokens[token] = f"{token}.{client.key.thumbprint()}"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(authz["challenges"][0]["url"], {})
    assert client.get(order_url).json()["status"] == "ready"
    outside = csr_der(["one.acme.test", "two.acme.test"])
    doc = problem(client.post(finalize, {"csr": b64u(outside)}), 400, "badCSR")
    assert "two.acme.test" in doc["detail"]
    cn_outside = csr_der(["one.acme.test"], cn="three.acme.test")
    problem(client.post(finalize, {"csr": b64u(cn_outside)}), 400, "badCSR")
    problem(client.post(finalize, {"csr": b64u(b"\x30\x03junk")}), 400, "badCSR")
    problem(client.post(finalize, {"csr": "not base64url!"}), 400, "badCSR")
    assert not IssuedCertificate.objects.filter(protocol="acme").exists()
    # The order is still ready: a correct CSR is accepted afterwards.
    good = client.post(finalize, {"csr": b64u(csr_der(["one.acme.test"]))})
    assert good.json()["status"] == "valid"


def test_profile_refusal_is_bad_csr(client_for, http01, django_capture_on_commit_callbacks):
    from cryptography.hazmat.primitives.asymmetric import rsa

    client = client_for()
    client.register()
    response = client.new_order("weak.acme.test")
    authz = client.get(response.json()["authorizations"][0]).json()
    token = authz["challenges"][0]["token"]
    http01.tokens[token] = f"{token}.{client.key.thumbprint()}"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(authz["challenges"][0]["url"], {})
    weak = csr_der(["weak.acme.test"], key=rsa.generate_private_key(65537, 1024))  # noqa: S505
    doc = problem(client.post(response.json()["finalize"], {"csr": b64u(weak)}), 400, "badCSR")
    assert "RSA-1024" in doc["detail"]


@pytest.mark.parametrize(
    "body",
    [
        b" ",
        b"not json",
        b"[]",
        b'{"protected": "", "payload": "", "signature": ""}',
        b'{"protected": "e30", "payload": "", "signature": "", "extra": 1}',
        b'{"protected": "bm90IGpzb24", "payload": "", "signature": ""}',
        b'{"protected": "e30", "payload": "", "signature": ""}',
        b'{"protected": "eyJhbGciOiJub25lIn0", "payload": "", "signature": ""}',
        b'{"protected": "eyJhbGciOiJIUzI1NiJ9", "payload": "", "signature": ""}',
        b'{"protected": "e30=", "payload": "", "signature": ""}',
    ],
)
def test_junk_bodies_get_problem_documents(client_for, body):
    client = client_for()
    for path in (
        "new-account",
        "new-order",
        "revoke-cert",
        "order/x",
        "order/x/finalize",
        "authz/x",
        "chall/x",
        "cert/x",
        "acct/x",
    ):
        response = client.http.post(
            f"/acme/acme1/{path}", body, content_type="application/jose+json"
        )
        assert response.status_code == 400, (path, body, response.content)
        assert response.json()["type"] in (ERR + "malformed", ERR + "badSignatureAlgorithm")


def test_algorithm_none_and_mac_are_bad_signature_algorithm(client_for):
    client = client_for()
    for alg in ("none", "HS256", "ES512x"):
        body = jws(client.key, f"{client.base}/new-account", {}, client.nonce(), extra={"alg": alg})
        doc = problem(
            client.post(f"{client.base}/new-account", None, body=body), 400, "badSignatureAlgorithm"
        )
        assert "ES256" in doc["algorithms"]


def test_algorithm_that_does_not_fit_the_key(client_for):
    client = client_for("ES256")
    body = jws(client.key, f"{client.base}/new-account", {}, client.nonce(), extra={"alg": "ES384"})
    problem(
        client.post(f"{client.base}/new-account", None, body=body), 400, "badSignatureAlgorithm"
    )


def test_wrong_content_type_and_method(client_for):
    client = client_for()
    wrong = client.post(
        f"{client.base}/new-account", {}, use_jwk=True, content_type="application/json"
    )
    problem(wrong, 415, "malformed")
    get = client.http.get("/acme/acme1/new-order")
    problem(get, 405, "malformed")


def test_jwk_where_kid_is_required_and_post_as_get_where_payload_is(client_for):
    client = client_for()
    client.register()
    problem(
        client.post(f"{client.base}/new-order", {"identifiers": []}, use_jwk=True), 400, "malformed"
    )
    problem(client.post(f"{client.base}/new-order", None), 400, "malformed")
    problem(client.post(f"{client.base}/new-order", {"identifiers": "x"}), 400, "malformed")
    problem(
        client.post(
            f"{client.base}/new-order", {"identifiers": [{"type": "email", "value": "a@b"}]}
        ),
        400,
        "unsupportedIdentifier",
    )
    problem(
        client.post(
            f"{client.base}/new-order",
            {"identifiers": [{"type": "dns", "value": "bad_name..acme.test"}]},
        ),
        400,
        "rejectedIdentifier",
    )


def test_private_key_in_jwk_is_refused(client_for):
    client = client_for()
    key = client.key
    jwk = key.jwk()
    jwk["d"] = b64u(b"\x01" * 32)
    body = jws(key, f"{client.base}/new-account", {}, client.nonce(), extra={"jwk": jwk})
    problem(client.post(f"{client.base}/new-account", None, body=body), 400, "badPublicKey")


def test_complete_helper_still_works(client_for, http01, django_capture_on_commit_callbacks):
    client = client_for()
    client.register()
    _, order = complete(client, http01, django_capture_on_commit_callbacks, "x.acme.test")
    assert order["status"] == "valid"


def test_new_orders_are_rate_limited_per_account(client_for, settings):
    settings.ANCHORAGE_ACME_ORDERS_PER_HOUR = 2
    busy, other = client_for(), client_for()
    busy.register()
    other.register()
    assert busy.new_order("a.acme.test").status_code == 201
    assert busy.new_order("b.acme.test").status_code == 201
    limited = busy.new_order("c.acme.test")
    doc = problem(limited, 429, "rateLimited")
    assert 0 < int(limited["Retry-After"]) <= 3600
    assert "2 new orders" in doc["detail"]
    assert other.new_order("a.acme.test").status_code == 201  # per account
