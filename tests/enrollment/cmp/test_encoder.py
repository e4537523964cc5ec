"""What `openssl cmp` 3.0 cannot send, with our own encoder (pki.crypto.cmp.client): PBMAC1,
rootCaKeyUpdate and certReqTemplate, malformed bodies, bad times and POPs, certConf and its
grace period, concurrent transactions sharing a transactionID."""

from __future__ import annotations

import functools
import urllib.request
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.utils import timezone

from enrollment.cmp import operations, replay, services
from enrollment.cmp.models import CmpTransaction
from pki.crypto.cmp import asn1, client, responses
from pki.models import IssuedCertificate
from pki.services.revocation import revoke
from tests.concurrency import run_together

CT = "application/pkixcmp"


@pytest.fixture
def setup(domain, est_pki):
    domain.enabled_protocols = ["api", "est", "cmp"]
    domain.save(update_fields=["enabled_protocols"])
    _, secret = services.create_secret(domain, None, reference="ref1")
    services.forget()
    return domain, secret.encode()


def post(body: bytes, content_type: str = CT, path: str = "/.well-known/cmp/p/alpha"):
    return Client().post(path, body, content_type=content_type)


def session(secret: bytes, **kw) -> client.Session:
    return client.Session(reference=b"ref1", secret=secret, **kw)


def ir(s: client.Session, name: str = "e1", **kw) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return client.message(
        s, "ir", client.cert_request(key, f"CN={name}.alpha.test", [f"{name}.alpha.test"], **kw)
    )


def test_pbmac1_protected_ir_gets_a_pbmac1_protected_answer(setup) -> None:
    _, secret = setup
    response = post(ir(session(secret, mac="pbmac1", implicit_confirm=True)))
    assert response.status_code == 200 and response["Content-Type"] == CT
    answer = client.read(response.content, secret)  # raises if our MAC does not verify
    assert answer.body_type == "ip" and answer.status == 0 and answer.certificate
    alg = answer.raw["header"]["protectionAlg"]["algorithm"].dotted
    assert alg == asn1.PBMAC1 and answer.implicit_confirm
    assert answer.ca_pubs  # RFC 9483 §4.1.1: the root for an ir under a MAC


def test_a_mac_protected_answer_names_the_requests_recipient_or_the_ca(setup) -> None:
    """RFC 9483 §3.1: the answer's sender is whom the request addressed; to a NULL-DN
    recipient, the CA that answers (not a NULL-DN). Errors too."""
    _, secret = setup
    addressed = client.read(
        post(ir(session(secret, recipient="CN=Some RA", implicit_confirm=True))).content, secret
    )
    assert addressed.raw["header"]["sender"].chosen.human_friendly == "Common Name: Some RA"
    anyone = client.read(post(ir(session(secret, implicit_confirm=True), "n2")).content, secret)
    assert anyone.certificate is not None
    issuer = x509.load_der_x509_certificate(anyone.certificate).issuer.public_bytes()
    assert anyone.raw["header"]["sender"].chosen.untag().dump(force=True) == issuer
    refused = client.read(post(ir(session(secret, time_offset=timedelta(hours=1)), "n3")).content)
    assert refused.raw["header"]["sender"].chosen.untag().dump(force=True) == issuer


def test_a_wrong_pbmac1_secret_is_bad_message_check(setup) -> None:
    answer = client.read(post(ir(session(b"not-the-secret-at-all", mac="pbmac1"))).content)
    assert answer.body_type == "error" and answer.fail == {"badMessageCheck"}
    assert not answer.protected


@pytest.mark.parametrize(
    ("body", "content_type", "fail"),
    [
        (b"", CT, "badDataFormat"),
        (b"not DER at all", CT, "badDataFormat"),
        (None, CT, "badDataFormat"),  # truncated
        (None, "application/octet-stream", "badRequest"),
    ],
)
def test_malformed_requests_get_an_error_message_never_a_500(
    setup, body, content_type, fail
) -> None:
    """A CMP error message is an HTTP 200 (RFC 9811): `openssl cmp` reads no 4xx body."""
    _, secret = setup
    good = ir(session(secret))
    if body is None:
        body = good[:-7] if fail == "badDataFormat" else good
    response = post(body, content_type)
    assert response.status_code == 200 and response["Content-Type"] == CT
    answer = client.read(response.content)
    assert answer.body_type == "error" and answer.status == 2 and fail in answer.fail


def test_other_methods_get_405_and_unknown_domains_404(setup) -> None:
    assert Client().get("/.well-known/cmp/p/alpha").status_code == 405
    assert post(b"x", path="/.well-known/cmp/p/nope").status_code == 404


def test_a_stale_message_time_is_bad_time(setup) -> None:
    _, secret = setup
    answer = client.read(post(ir(session(secret, time_offset=timedelta(hours=1)))).content, secret)
    assert answer.fail == {"badTime"} and answer.protected  # the sender was authenticated


def test_ra_verified_and_bad_pops_are_refused(setup) -> None:
    _, secret = setup
    for pop in ("raVerified", "bad"):
        answer = client.read(post(ir(session(secret), pop=pop)).content, secret)
        assert answer.fail == {"badPOP"}, answer.text
    assert not IssuedCertificate.objects.exists()


@pytest.mark.parametrize(
    ("body", "tag", "content"),
    [
        ("pollReq", 25, b"\x30\x00"),
        ("krr", 9, b"\x30\x00"),
        ("ccr", 13, b"\x30\x00"),
        ("ckuann", 15, b"\x30\x00"),
        ("nested", 20, b"\x30\x00"),
        ("ip", 1, b"\x30\x02\x30\x00"),  # a response body sent as a request
    ],
)
def test_bodies_outside_the_profile_are_refused_with_bad_request(setup, body, tag, content) -> None:
    """No polling, key recovery, cross-certification, announcements or nested messages
    (RFC 9483 profiles none of them): a protected error with badRequest, HTTP 200."""
    _, secret = setup
    raw = asn1.PKIBody.load(bytes([0xA0 | tag, len(content)]) + content)
    response = post(client.message(session(secret), body, raw))
    answer = client.read(response.content, secret)
    assert response.status_code == 200 and answer.protected
    assert answer.body_type == "error" and answer.status == 2 and answer.fail == {"badRequest"}
    assert not IssuedCertificate.objects.exists()


def test_nonces_outlive_the_message_time_window(setup, settings) -> None:
    """A nonce is remembered at least as long as messageTime lets a message in (the skew on
    either side): a shorter ANCHORAGE_CMP_NONCE_SECONDS would open a replay window."""
    _, secret = setup
    settings.ANCHORAGE_CMP_NONCE_SECONDS = 0
    settings.ANCHORAGE_CMP_MAX_SKEW_SECONDS = 300
    assert replay.remembered_seconds() == 600
    body = client.message(session(secret), "genm", client.gen_msg(asn1.IT_CA_CERTS))
    assert client.read(post(body).content, secret).body_type == "genp"
    again = client.read(post(body).content, secret)
    assert again.body_type == "error" and again.fail == {"badSenderNonce"}


@pytest.mark.parametrize(
    ("name", "bit"),
    [
        ("badAlg", 0),
        ("badPOP", 9),
        ("badSenderNonce", 18),
        ("notAuthorized", 23),
        ("systemFailure", 25),
        ("duplicateCertReq", 26),
    ],
)
def test_fail_info_bits_are_where_rfc_4210_puts_them(name, bit) -> None:
    """RFC 4210 §5.2.3 (unchanged by RFC 9480): the bit positions, DER-minimal."""
    der = responses.Status.rejection("x", name).asn1()["failInfo"].dump()
    unused, octets = der[2], der[3:]
    assert len(octets) == bit // 8 + 1 and unused == 7 - bit % 8
    assert int.from_bytes(octets, "big") >> unused == 1 << (7 - bit % 8) >> unused


def test_a_short_sender_nonce_is_refused(setup) -> None:
    _, secret = setup
    key = ec.generate_private_key(ec.SECP256R1())
    body = client.message(
        session(secret), "ir", client.cert_request(key, "CN=n.alpha.test"), sender_nonce=b"short"
    )
    assert client.read(post(body).content).fail == {"badSenderNonce"}


@pytest.mark.parametrize(("sent", "answered"), [(1, 2), (4, 3), (9, 3)])
def test_an_unsupported_pvno_is_answered_in_the_nearest_version_we_speak(
    setup, sent, answered
) -> None:
    """RFC 9480 §2.20: unsupportedVersion, in our highest version for a higher request and our
    lowest for a lower one."""
    _, secret = setup
    answer = client.read(post(ir(session(secret, pvno=sent))).content)
    assert answer.fail == {"unsupportedVersion"}
    assert answer.raw["header"]["pvno"].native == answered


@pytest.mark.parametrize("pvno", [2, 3])
def test_the_answer_speaks_the_requests_version(setup, pvno) -> None:
    _, secret = setup
    answer = client.read(
        post(ir(session(secret, pvno=pvno, implicit_confirm=True))).content, secret
    )
    assert answer.body_type == "ip" and answer.raw["header"]["pvno"].native == pvno


def test_genm_root_ca_key_update_and_cert_req_template(setup) -> None:
    _, secret = setup
    body = client.message(
        session(secret),
        "genm",
        client.gen_msg(asn1.IT_CA_CERTS, asn1.IT_ROOT_CA_KEY_UPDATE, asn1.IT_CERT_REQ_TEMPLATE),
    )
    answer = client.read(post(body).content, secret)
    assert answer.body_type == "genp"
    assert len(asn1.Certificates.load(answer.general[asn1.IT_CA_CERTS])) == 2
    assert answer.general[asn1.IT_ROOT_CA_KEY_UPDATE] is None  # no new root: no update
    template = asn1.CertReqTemplateContent.load(answer.general[asn1.IT_CERT_REQ_TEMPLATE])
    assert template["certTemplate"]["subject"].native  # CN required by the device profile
    assert template["keySpec"].native


def test_cert_conf_ends_the_transaction_and_checks_the_hash(setup) -> None:
    _, secret = setup
    s = session(secret)
    answer = client.read(post(ir(s)).content, secret)
    tx = CmpTransaction.objects.get()
    assert tx.state == CmpTransaction.State.WAITING and answer.certificate is not None
    wrong = client.message(
        s,
        "certConf",
        asn1.CertConfirmContent([{"certHash": b"\0" * 32, "certReqId": 0}]),
        recip_nonce=answer.sender_nonce,
    )
    assert client.read(post(wrong).content, secret).fail == {"badCertId"}
    stale = client.message(
        s, "certConf", client.cert_conf(answer.certificate), recip_nonce=b"x" * 16
    )
    assert client.read(post(stale).content, secret).fail == {"badRecipientNonce"}
    good = client.message(
        s, "certConf", client.cert_conf(answer.certificate), recip_nonce=answer.sender_nonce
    )
    assert client.read(post(good).content, secret).body_type == "pkiconf"
    tx.refresh_from_db()
    assert tx.state == CmpTransaction.State.CONFIRMED


def test_cert_conf_hash_alg_cert_req_id_and_a_second_confirmation(setup) -> None:
    """RFC 9480 §2.10: certHash uses the certificate's signature hash; hashAlg (pvno 3 only)
    may not name another one nor a weak one; an unknown certReqId is badCertId; a second
    certConf is certConfirmed."""
    _, secret = setup
    s = session(secret)
    answer = client.read(post(ir(s)).content, secret)
    assert answer.certificate is not None
    v3 = session(secret, transaction_id=s.transaction_id, pvno=3)

    def confirm(sess: client.Session, content: asn1.CertConfirmContent) -> client.Answer:
        body = client.message(sess, "certConf", content, recip_nonce=answer.sender_nonce)
        return client.read(post(body).content, secret)

    cases = [
        (s, client.cert_conf(answer.certificate, cert_req_id=5), {"badCertId"}),
        (v3, client.cert_conf(answer.certificate, hash_alg="md5"), {"badAlg"}),
        (v3, client.cert_conf(answer.certificate, hash_alg="sha384"), {"badAlg"}),
        (s, client.cert_conf(answer.certificate, hash_alg="sha256"), {"badRequest"}),
    ]
    for sess, content, fail in cases:
        refused = confirm(sess, content)
        assert refused.body_type == "error" and refused.fail == fail, refused.text
    assert CmpTransaction.objects.get().state == CmpTransaction.State.WAITING
    done = confirm(v3, client.cert_conf(answer.certificate, hash_alg="sha256"))
    assert done.body_type == "pkiconf" and done.raw["header"]["pvno"].native == 3
    again = confirm(s, client.cert_conf(answer.certificate))
    assert again.body_type == "error" and again.fail == {"certConfirmed"}


def test_kur_names_its_certificate_in_old_cert_id_and_a_revoked_one_cannot_update(
    setup,
) -> None:
    """RFC 9483 §4.1.3: oldCertID is required and must be the issuer and serial of the
    certificate that signs the kur; a revoked signer is certRevoked."""
    _, secret = setup
    key = ec.generate_private_key(ec.SECP256R1())
    request = client.cert_request(key, "CN=k.alpha.test", ["k.alpha.test"])
    first = client.read(
        post(client.message(session(secret, implicit_confirm=True), "ir", request)).content,
        secret,
    )
    old = first.certificate
    assert old is not None

    def kur(**kw) -> client.Answer:
        signed = client.Session(signer_key=key, signer_chain=(old,), implicit_confirm=True)
        new_key = ec.generate_private_key(ec.SECP256R1())
        body = client.cert_request(new_key, "CN=k.alpha.test", ["k.alpha.test"], **kw)
        return client.read(post(client.message(signed, "kur", body)).content)

    assert kur().fail == {"badRequest"}  # no oldCertID
    assert kur(old_cert=old, old_cert_issuer="CN=Another CA").fail == {"badCertId"}
    updated = kur(old_cert=old)
    assert updated.body_type == "kup" and updated.status == 0, updated.text
    revoke(IssuedCertificate.objects.get(der=old), "superseded", requester="test")
    assert kur(old_cert=old).fail == {"certRevoked"}


def test_rr_needs_issuer_and_serial_and_a_second_one_is_cert_revoked(setup) -> None:
    """RFC 9483 §4.2: certDetails with issuer and serialNumber; an unreadable reasonCode is
    badDataFormat (not a systemFailure); revoking a revoked certificate is a rejection with
    certRevoked."""
    _, secret = setup
    s = session(secret, implicit_confirm=True)
    cert = client.read(post(ir(s, "rr")).content, secret).certificate
    assert cert is not None

    def rr(content: asn1.RevReqContent) -> client.Answer:
        return client.read(post(client.message(session(secret), "rr", content)).content, secret)

    assert rr(client.rev_req(cert, with_issuer=False)).fail == {"badCertId"}
    assert rr(client.rev_req(cert, reason_der=b"\x04\x01\x01")).fail == {"badDataFormat"}
    assert IssuedCertificate.objects.get().status == IssuedCertificate.Status.VALID
    done = rr(client.rev_req(cert))
    assert done.body_type == "rp" and done.status == 0, done.text
    again = rr(client.rev_req(cert))
    assert again.body_type == "error" and again.status == 2 and again.fail == {"certRevoked"}


def test_an_unconfirmed_certificate_is_revoked_after_the_grace_period(setup) -> None:
    _, secret = setup
    client.read(post(ir(session(secret))).content, secret)
    CmpTransaction.objects.update(confirm_by=timezone.now() - timedelta(seconds=1))
    assert operations.expire_due() == 1
    assert IssuedCertificate.objects.get().status == IssuedCertificate.Status.REVOKED
    assert CmpTransaction.objects.get().state == CmpTransaction.State.EXPIRED


def test_a_retried_request_gets_the_same_certificate(setup) -> None:
    _, secret = setup
    s = session(secret, implicit_confirm=True)
    key = ec.generate_private_key(ec.SECP256R1())
    request = client.cert_request(key, "CN=r.alpha.test", ["r.alpha.test"])
    first = client.read(post(client.message(s, "ir", request)).content, secret)
    again = client.read(post(client.message(s, "ir", request)).content, secret)  # new nonce
    assert first.certificate == again.certificate
    assert IssuedCertificate.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_transactions_with_one_transaction_id(setup, live_server) -> None:
    _, secret = setup
    tx_id = b"T" * 16
    bodies = [
        ir(session(secret, transaction_id=tx_id, implicit_confirm=True), name=f"c{i}")
        for i in range(2)
    ]

    def send(body: bytes):
        request = urllib.request.Request(
            f"{live_server.url}/.well-known/cmp/p/alpha", body, {"Content-Type": CT}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return client.read(response.read(), secret)

    answers = run_together([functools.partial(send, b) for b in bodies])
    kinds = sorted(a.body_type for a in answers)
    assert kinds == ["error", "ip"], answers
    assert next(a for a in answers if a.body_type == "error").fail == {"transactionIdInUse"}
    assert IssuedCertificate.objects.count() == 1
