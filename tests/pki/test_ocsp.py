"""OCSP through Django (/ocsp/<ca>/) with the real `openssl ocsp` client: good, revoked with
reason and time, unknown, SHA-256 CertIDs, nonces, GET with RFC 5019 caching headers, and
the error answers (never a 500)."""

from __future__ import annotations

import base64
import urllib.parse
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp

from accounts.roles import Role
from pki.crypto import certs
from pki.models import OcspResponder, OcspResponse, Reason, Revocation
from pki.services import hierarchy, ocsp_respond, profiles
from pki.services import ocsp as ocsp_service
from pki.services.revocation import release_hold, revoke
from pki.tasks import ocsp as ocsp_tasks
from tests.pki.helpers import TLS_SERVER
from tests.pki.ocsp_helpers import (
    Leaf,
    fetch,
    issue_leaf,
    ocsp_request,
    openssl_ocsp,
    post,
    request_by_hash,
    response_status,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _forget_caches():
    # The live server thread shares this process: CAs of earlier tests had the same slugs.
    ocsp_service.forget()
    ocsp_respond.forget()
    yield


@pytest.fixture
def setup(domain, make_user, make_csr, tmp_path) -> dict[str, Any]:
    from pki.crypto.keys import KeyAlgorithm

    root, issuing = hierarchy.create_local_pki(domain, KeyAlgorithm.EC_P256)
    profiles.save_profile(domain, "tls-server", TLS_SERVER, issuing)
    operator = make_user("olga", Role.OPERATOR, domain)
    leaf = issue_leaf(domain, root, issuing, operator, make_csr, tmp_path)
    return {"root": root, "issuing": issuing, "operator": operator, "leaf": leaf}


def _url(live_server: Any, leaf: Leaf) -> str:
    return f"{live_server.url}/ocsp/{leaf.cert.ca.slug}/"


def test_issuance_presigns_both_hashes(setup):
    leaf: Leaf = setup["leaf"]
    row = OcspResponse.objects.get(ca=leaf.cert.ca, serial=leaf.cert.serial)
    assert row.status == "good" and row.not_after == leaf.cert.not_after
    for body, algorithm in ((row.sha1, "SHA1"), (row.sha256, "SHA256")):
        parsed = ocsp.load_der_ocsp_response(bytes(body))
        assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD
        assert parsed.hash_algorithm.name.upper() == algorithm
        assert parsed.serial_number == int(leaf.cert.serial, 16)
        # RFC 5019 §2.2.3: responderID byKey; the delegated responder certificate rides along.
        assert parsed.responder_key_hash is not None and parsed.responder_name is None
        responder = OcspResponder.objects.get(ca=leaf.cert.ca)
        assert [c.serial_number for c in parsed.certificates] == [int(responder.serial, 16)]
        assert parsed.next_update_utc and parsed.this_update_utc
        assert parsed.next_update_utc - parsed.this_update_utc == timedelta(days=1)


def test_good_with_openssl(live_server, setup):
    leaf: Leaf = setup["leaf"]
    result = openssl_ocsp(leaf, _url(live_server, leaf))
    assert result.status == "good", result.stdout + result.stderr
    assert result.verified, result.stderr  # signature, responder chain, nonce echoed


def test_revoked_with_reason_and_time(live_server, setup):
    leaf: Leaf = setup["leaf"]
    revoke(leaf.cert, Reason.KEY_COMPROMISE, actor=setup["operator"])
    revocation = Revocation.objects.get(certificate=leaf.cert)
    result = openssl_ocsp(leaf, _url(live_server, leaf), "-no_nonce")
    assert result.status == "revoked", result.stdout + result.stderr
    assert result.verified, result.stderr
    assert "Reason: keyCompromise" in result.stdout
    when = revocation.revoked_at.strftime("%b %e %H:%M:%S %Y")
    assert f"Revocation Time: {when} GMT" in result.stdout, result.stdout


def test_released_hold_is_good_again(live_server, setup):
    leaf: Leaf = setup["leaf"]
    revoke(leaf.cert, Reason.CERTIFICATE_HOLD, actor=setup["operator"])
    result = openssl_ocsp(leaf, _url(live_server, leaf))
    assert result.status == "revoked" and "certificateHold" in result.stdout
    release_hold(leaf.cert, actor=setup["operator"])
    assert openssl_ocsp(leaf, _url(live_server, leaf)).status == "good"


def test_sha256_certid(live_server, setup):
    leaf: Leaf = setup["leaf"]
    result = openssl_ocsp(leaf, _url(live_server, leaf), "-no_nonce", digest="-sha256")
    assert result.status == "good" and result.verified, result.stdout + result.stderr


def test_nonce_is_signed_live_and_echoed(live_server, setup):
    leaf: Leaf = setup["leaf"]
    result = openssl_ocsp(leaf, _url(live_server, leaf), "-nonce", "-resp_text")
    assert result.status == "good" and result.verified, result.stdout + result.stderr
    assert "OCSP Nonce" in result.stdout
    # The pre-signed response carries no nonce; the live one does, and is not cacheable.
    nonce = bytes(range(1, 17))
    der = request_by_hash(_request(leaf, setup), nonce=nonce)
    status, answer, headers = post(_url(live_server, leaf), der)
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    parsed = ocsp.load_der_ocsp_response(answer)
    assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    assert answer != bytes(OcspResponse.objects.get(serial=leaf.cert.serial).sha1)


def _request(leaf: Leaf, setup: dict[str, Any]) -> bytes:
    return ocsp_request(bytes(leaf.cert.der), bytes(setup["issuing"].certificate))


def test_without_nonce_answers_presigned(live_server, setup):
    leaf: Leaf = setup["leaf"]
    result = openssl_ocsp(leaf, _url(live_server, leaf), "-no_nonce")
    assert result.status == "good" and result.verified, result.stderr
    stored = OcspResponse.objects.get(serial=leaf.cert.serial)
    status, body, _ = post(
        _url(live_server, leaf),
        ocsp_request(bytes(leaf.cert.der), bytes(setup["issuing"].certificate)),
    )
    assert status == 200 and body == bytes(stored.sha1)


def test_unknown_serial(live_server, setup):
    leaf: Leaf = setup["leaf"]
    # The issuing CA's CertID with a serial it never issued.
    der = request_by_hash(_request(leaf, setup), serial=0x1234567)
    status, body, _ = post(_url(live_server, leaf), der)
    assert status == 200
    parsed = ocsp.load_der_ocsp_response(body)
    assert parsed.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert parsed.serial_number == 0x1234567
    # The second ask is the remembered answer, not a new signature.
    assert post(_url(live_server, leaf), der)[1] == body


def test_get_with_caching_headers(live_server, setup):
    leaf: Leaf = setup["leaf"]
    der = ocsp_request(bytes(leaf.cert.der), bytes(setup["issuing"].certificate), hashes.SHA256())
    encoded = urllib.parse.quote(base64.b64encode(der).decode(), safe="")  # '/' as %2F
    status, body, headers = fetch(_url(live_server, leaf) + encoded)
    stored = OcspResponse.objects.get(serial=leaf.cert.serial)
    assert status == 200 and body == bytes(stored.sha256)
    assert headers["Content-Type"] == "application/ocsp-response"
    cache = headers["Cache-Control"]
    assert cache.endswith(", public, no-transform, must-revalidate"), cache
    assert 0 < int(cache.split(",")[0].removeprefix("max-age=")) <= 600
    assert headers["ETag"].startswith('"') and headers["Last-Modified"] and headers["Expires"]
    # Unquoted base64 ('+' and '/' as they are) answers the same.
    plain = base64.b64encode(der).decode()
    assert fetch(_url(live_server, leaf) + plain)[1] == body


@pytest.mark.parametrize(
    ("body", "expected", "status"),
    [
        (b"garbage", "MALFORMED_REQUEST", 400),
        (b"", "MALFORMED_REQUEST", 400),
        (b"\x30\x82\x01\x00\x30", "MALFORMED_REQUEST", 400),
    ],
)
def test_bad_requests_are_malformed(live_server, setup, body, expected, status):
    leaf: Leaf = setup["leaf"]
    code, answer, headers = post(_url(live_server, leaf), body)
    assert code == status and response_status(answer) == expected
    assert headers["Content-Type"] == "application/ocsp-response"


def test_truncated_and_two_certids_are_malformed(live_server, setup):
    leaf: Leaf = setup["leaf"]
    issuer_der = bytes(setup["issuing"].certificate)
    der = ocsp_request(bytes(leaf.cert.der), issuer_der)
    code, answer, _ = post(_url(live_server, leaf), der[:-5])
    assert code == 400 and response_status(answer) == "MALFORMED_REQUEST"
    # RFC 5019 §2.1.1: one CertID a request; `cryptography` builds only one, so splice.
    body = _two_certids(der)
    code, answer, _ = post(_url(live_server, leaf), body)
    assert code == 400 and response_status(answer) == "MALFORMED_REQUEST"
    # A garbage GET and an unsupported CertID hash (SHA-512) too.
    code, answer, _ = fetch(_url(live_server, leaf) + "not!base64")
    assert code == 400 and response_status(answer) == "MALFORMED_REQUEST"
    sha512 = ocsp_request(bytes(leaf.cert.der), issuer_der, hashes.SHA512())
    assert post(_url(live_server, leaf), sha512)[0] == 400


def _two_certids(der: bytes) -> bytes:
    """OCSPRequest { TBSRequest { requestList SEQUENCE OF Request } } with its one Request
    twice (short-form lengths: the request is ~70 octets)."""
    from pki.crypto.der import tlv

    assert der[0] == 0x30 and der[2] == 0x30 and der[4] == 0x30
    one = der[6 : 6 + der[5]]
    request_list = tlv(0x30, one + one)
    return tlv(0x30, tlv(0x30, request_list))


def test_nonce_longer_than_32_octets_is_malformed(live_server, setup):
    leaf: Leaf = setup["leaf"]
    der = request_by_hash(_request(leaf, setup), nonce=b"n" * 33)
    code, answer, _ = post(_url(live_server, leaf), der)
    assert code == 400 and response_status(answer) == "MALFORMED_REQUEST"


def test_other_ca_and_unknown_slug_are_unauthorized(live_server, setup, tmp_path):
    leaf: Leaf = setup["leaf"]
    root = setup["root"]
    # The leaf's CertID sent to the root's URL, and to a CA that does not exist.
    for slug in (root.slug, "no-such-ca"):
        result = openssl_ocsp(leaf, f"{live_server.url}/ocsp/{slug}/", "-no_nonce")
        assert "unauthorized" in result.stdout + result.stderr, result.stdout + result.stderr
        der = ocsp_request(bytes(leaf.cert.der), bytes(setup["issuing"].certificate))
        code, answer, _ = post(f"{live_server.url}/ocsp/{slug}/", der)
        assert code == 200 and response_status(answer) == "UNAUTHORIZED"


def test_responder_renewed_by_the_task_when_near_expiry(setup):
    leaf: Leaf = setup["leaf"]
    ca = leaf.cert.ca
    old = OcspResponder.objects.get(ca=ca)
    # Two thirds of its life gone: the hourly task makes a new one and re-signs with it.
    OcspResponder.objects.filter(pk=old.pk).update(
        not_before=certs.now() - timedelta(days=6), not_after=certs.now() + timedelta(days=1)
    )
    ocsp_service._current.clear()
    ocsp_tasks.renew_responders()
    new = OcspResponder.objects.filter(ca=ca).order_by("-not_after").first()
    assert new is not None and new.pk != old.pk
    parsed = ocsp.load_der_ocsp_response(
        bytes(OcspResponse.objects.get(serial=leaf.cert.serial).sha256)
    )
    assert [c.serial_number for c in parsed.certificates] == [int(new.serial, 16)]
    # Nothing is due a second time.
    ocsp_tasks.renew_responders()
    assert OcspResponder.objects.filter(ca=ca).count() == 2


def test_refresh_task_resigns_due_responses(setup):
    leaf: Leaf = setup["leaf"]
    row = OcspResponse.objects.get(serial=leaf.cert.serial)
    OcspResponse.objects.filter(pk=row.pk).update(next_update=certs.now() + timedelta(hours=1))
    assert ocsp_tasks.refresh_responses() == 1
    fresh = OcspResponse.objects.get(pk=row.pk)
    assert fresh.next_update > certs.now() + timedelta(hours=23)
    assert bytes(fresh.sha1) != bytes(row.sha1)
    assert ocsp_tasks.refresh_responses() == 0


def test_upstream_ca_is_not_ours_to_answer(setup):
    """An upstream CA (AWS Private CA) answers OCSP itself: nothing is signed for it here and
    its URL answers unauthorized."""
    from pki.models import CertificateAuthority

    leaf: Leaf = setup["leaf"]
    ca = leaf.cert.ca
    CertificateAuthority.objects.filter(pk=ca.pk).update(kind=CertificateAuthority.Kind.UPSTREAM)
    ca.refresh_from_db()
    leaf.cert.refresh_from_db()
    OcspResponse.objects.filter(ca=ca).delete()
    ocsp_service.presign(ca, [leaf.cert])
    assert not OcspResponse.objects.filter(ca=ca).exists()
    answer = ocsp_respond.respond(ca.slug, _request(leaf, setup), method="POST")
    assert answer.status_code == 200 and response_status(answer.body) == "UNAUTHORIZED"
