"""pki.crypto.ocsp on its own: the DER it assembles reads back through `cryptography` with
every field as given and a signature the responder's key made; requests parse or are
refused as malformed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import NameOID

from pki.crypto import certs, ocsp
from pki.crypto.backends.software import SoftwareSigner

NOW = datetime(2026, 11, 26, 1, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def responder() -> ocsp.Responder:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca_der = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    key_ref, spki = ocsp.new_responder_key()
    template = certs.CertTemplate(
        subject=[("CN", "Test CA OCSP responder")],
        public_key_der=spki,
        serial=certs.random_serial(),
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=7),
        key_usage=["digitalSignature"],
        ext_key_usage=["OCSPSigning"],
        ocsp_no_check=True,
    )
    cert_der = certs.build(template, SoftwareSigner(ca_key), ca_der)
    cert = x509.load_der_x509_certificate(cert_der)
    assert cert.extensions.get_extension_for_class(x509.OCSPNoCheck)
    return ocsp.Responder(key_ref, cert_der)


def _read(responder: ocsp.Responder, der: bytes) -> x509_ocsp.OCSPResponse:
    parsed = x509_ocsp.load_der_ocsp_response(der)
    assert parsed.response_status == x509_ocsp.OCSPResponseStatus.SUCCESSFUL
    public_key = responder.cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(parsed.signature, parsed.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    assert parsed.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(public_key).digest
    assert [c.serial_number for c in parsed.certificates] == [responder.cert.serial_number]
    return parsed


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
@pytest.mark.parametrize("serial", [1, 0x80, 0xFF00, 2**158 + 12345])
def test_good_reads_back(responder, algorithm, serial):
    size = 20 if algorithm == "sha1" else 32
    cert_id = ocsp.CertId(algorithm, b"n" * size, b"k" * size, serial)
    answer = ocsp.Answer("good", NOW, NOW + timedelta(days=1))
    parsed = _read(responder, responder.sign(cert_id, answer))
    assert parsed.certificate_status == x509_ocsp.OCSPCertStatus.GOOD
    assert parsed.serial_number == serial
    assert parsed.hash_algorithm.name == algorithm
    assert parsed.issuer_name_hash == b"n" * size and parsed.issuer_key_hash == b"k" * size
    assert parsed.this_update_utc == NOW and parsed.next_update_utc == NOW + timedelta(days=1)
    assert len(parsed.extensions) == 0


@pytest.mark.parametrize(
    ("reason", "flag"),
    [
        ("keyCompromise", x509.ReasonFlags.key_compromise),
        ("certificateHold", x509.ReasonFlags.certificate_hold),
        ("aACompromise", x509.ReasonFlags.aa_compromise),
        ("unspecified", None),  # RFC 5280 §5.3.1: no reason code rather than unspecified
    ],
)
def test_revoked_with_time_and_reason(responder, reason, flag):
    cert_id = ocsp.CertId("sha1", b"n" * 20, b"k" * 20, 77)
    revoked_at = NOW - timedelta(hours=3)
    answer = ocsp.Answer("revoked", NOW, NOW + timedelta(days=1), revoked_at, reason)
    parsed = _read(responder, responder.sign(cert_id, answer))
    assert parsed.certificate_status == x509_ocsp.OCSPCertStatus.REVOKED
    assert parsed.revocation_time_utc == revoked_at
    assert parsed.revocation_reason == flag


def test_unknown_and_nonce(responder):
    cert_id = ocsp.CertId("sha256", b"n" * 32, b"k" * 32, 5)
    answer = ocsp.Answer("unknown", NOW, NOW + timedelta(hours=1))
    parsed = _read(responder, responder.sign(cert_id, answer, b"\x01" * 32))
    assert parsed.certificate_status == x509_ocsp.OCSPCertStatus.UNKNOWN
    assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"\x01" * 32


def test_requests(responder):
    cert_id = ocsp.CertId("sha1", b"n" * 20, b"k" * 20, 99)
    builder = x509_ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        b"n" * 20,
        b"k" * 20,
        99,
        hashes.SHA1(),  # noqa: S303 (the CertID hash clients use)
    )
    plain = builder.build().public_bytes(serialization.Encoding.DER)
    assert ocsp.parse_request(plain) == ocsp.Request(cert_id, None)
    with_nonce = builder.add_extension(x509.OCSPNonce(b"abc"), critical=False).build()
    request = ocsp.parse_request(with_nonce.public_bytes(serialization.Encoding.DER))
    assert request.nonce == b"abc"
    for bad in (b"", b"\x30", plain[:-1], plain + b"\x00"):
        with pytest.raises(ocsp.MalformedRequest):
            ocsp.parse_request(bad)


def test_error_responses_are_what_they_say():
    for body, status in (
        (ocsp.MALFORMED_REQUEST, x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST),
        (ocsp.INTERNAL_ERROR, x509_ocsp.OCSPResponseStatus.INTERNAL_ERROR),
        (ocsp.TRY_LATER, x509_ocsp.OCSPResponseStatus.TRY_LATER),
        (ocsp.UNAUTHORIZED, x509_ocsp.OCSPResponseStatus.UNAUTHORIZED),
    ):
        assert x509_ocsp.load_der_ocsp_response(body).response_status == status
