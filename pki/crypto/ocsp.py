"""OCSP (RFC 6960) as RFC 5019 profiles it: reading a request, signing one answer.

A request names certificates by CertID (hash algorithm, issuerNameHash, issuerKeyHash,
serial); we answer SHA-1 and SHA-256 CertIDs. Responses are signed by a delegated responder
(RFC 6960 §4.2.2.2): a short-lived certificate of the CA's own, id-kp-OCSPSigning and
id-pkix-ocsp-nocheck, whose key is a software key sealed with the KEK.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from pki.crypto.backends.software import SoftwareBackend
from pki.crypto.der import SIGNATURE_ALGORITHM, tlv
from pki.crypto.keys import KeyAlgorithm

HASHES = ("sha1", "sha256")
MAX_NONCE = 32  # octets; RFC 8954 §2.1


class MalformedRequest(ValueError):
    """Not an OCSP request we can answer: malformedRequest (RFC 6960 §2.3)."""


# Unsigned OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } (RFC 6960 §4.2.1).
MALFORMED_REQUEST = bytes.fromhex("3003 0a01 01")
INTERNAL_ERROR = bytes.fromhex("3003 0a01 02")
TRY_LATER = bytes.fromhex("3003 0a01 03")
UNAUTHORIZED = bytes.fromhex("3003 0a01 06")

_HASH_NAMES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}


@dataclass(frozen=True)
class CertId:
    hash_algorithm: str  # "sha1" | "sha256"
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int


@dataclass(frozen=True)
class Request:
    cert_id: CertId
    nonce: bytes | None


@lru_cache(maxsize=65536)
def parse_request(der: bytes) -> Request:
    """The CertID and nonce of a DER OCSPRequest. One CertID only: RFC 5019 §2.1.1 lets a
    client send one, and `cryptography` refuses requests with more (MalformedRequest).

    Remembered: a client asks about its certificate with the same bytes again and again,
    and a dictionary lookup is a tenth of a parse (errors are not remembered)."""
    try:
        request = ocsp.load_der_ocsp_request(der)
        algorithm = request.hash_algorithm.name
        cert_id = CertId(
            algorithm,
            request.issuer_name_hash,
            request.issuer_key_hash,
            request.serial_number,
        )
        nonce = _nonce(request)
    except UnsupportedAlgorithm:
        raise MalformedRequest("CertID hash algorithm is not SHA-1 or SHA-256") from None
    except NotImplementedError:  # more than one CertID
        raise MalformedRequest("one CertID a request (RFC 5019 §2.1.1)") from None
    except (ValueError, TypeError) as exc:
        raise MalformedRequest(f"not an OCSP request: {exc}") from None
    if algorithm not in _HASH_NAMES:
        raise MalformedRequest(f"CertID hash algorithm {algorithm} is not SHA-1 or SHA-256")
    return Request(cert_id, nonce)


def _nonce(request: ocsp.OCSPRequest) -> bytes | None:
    try:
        value = request.extensions.get_extension_for_class(x509.OCSPNonce).value
    except x509.ExtensionNotFound:
        return None
    if not 1 <= len(value.nonce) <= MAX_NONCE:
        # RFC 8954 §2.1: 1 to 32 octets; longer ones are answered malformedRequest.
        raise MalformedRequest(f"nonce of {len(value.nonce)} octets (1 to {MAX_NONCE})")
    return value.nonce


def issuer_hashes(ca_der: bytes) -> dict[str, tuple[bytes, bytes]]:
    """Per CertID hash algorithm: (issuerNameHash, issuerKeyHash) of a CA certificate.
    The key hash covers the subjectPublicKey BIT STRING's value (RFC 6960 §4.1.1)."""
    cert = x509.load_der_x509_certificate(ca_der)
    name = cert.subject.public_bytes()
    key = _subject_public_key(
        cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return {
        algorithm: (hashlib.new(algorithm, name).digest(), hashlib.new(algorithm, key).digest())
        for algorithm in HASHES
    }


def _subject_public_key(spki: bytes) -> bytes:
    """SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING }: the BIT
    STRING's bytes after its unused-bits octet."""

    def header(at: int) -> tuple[int, int]:  # (content start, content length)
        first = spki[at + 1]
        if first < 0x80:
            return at + 2, first
        n = first & 0x7F
        return at + 2 + n, int.from_bytes(spki[at + 2 : at + 2 + n], "big")

    inner, _ = header(0)
    algorithm_start, algorithm_length = header(inner)
    bits_start, bits_length = header(algorithm_start + algorithm_length)
    return spki[bits_start + 1 : bits_start + bits_length]


@dataclass(frozen=True)
class Answer:
    """What one response says about one CertID."""

    status: str  # "good" | "revoked" | "unknown"
    this_update: datetime
    next_update: datetime
    revoked_at: datetime | None = None
    reason: str | None = None  # RFC 5280 CRLReason name


class Responder:
    """A loaded responder: its certificate and in-process key (loaded once per process).

    Responses are assembled here in DER (RFC 6960 §4.2.1) around one ECDSA signature: the
    `cryptography` builder took three times as long (it re-encodes and re-parses), and
    issuance signs two responses per certificate."""

    def __init__(self, key_ref: str, cert_der: bytes) -> None:
        key = SoftwareBackend(alias="ocsp").signer(key_ref).private_key
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("an OCSP responder key is EC P-256")
        self.key = key
        self.cert = x509.load_der_x509_certificate(cert_der)
        spki = self.cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # responderID byKey: SHA-1 of the responder's public key (RFC 6960 §4.2.1).
        key_hash = hashlib.sha1(_subject_public_key(spki)).digest()  # noqa: S324
        self._responder_id = tlv(0xA2, tlv(0x04, key_hash))
        self._certs = tlv(0xA0, tlv(0x30, bytes(cert_der)))

    def sign(self, cert_id: CertId, answer: Answer, nonce: bytes | None = None) -> bytes:
        """A successful OCSPResponse with one BasicOCSPResponse SingleResponse, responderID
        byKey (RFC 5019 §2.2.3), the responder certificate in `certs`, the nonce echoed."""
        single = tlv(
            0x30,
            _cert_id(cert_id)
            + _status(answer)
            + _time(answer.this_update)
            + tlv(0xA0, _time(answer.next_update)),
        )
        extensions = b""
        if nonce is not None:  # RFC 8954: id-pkix-ocsp-nonce, the nonce as an OCTET STRING
            nonce_ext = tlv(0x30, _NONCE_OID + tlv(0x04, tlv(0x04, nonce)))
            extensions = tlv(0xA1, tlv(0x30, nonce_ext))
        tbs = tlv(
            0x30,
            self._responder_id + _time(datetime.now(UTC)) + tlv(0x30, single) + extensions,
        )
        signature = self.key.sign(tbs, ec.ECDSA(hashes.SHA256()))
        basic = tlv(
            0x30,
            tbs
            + SIGNATURE_ALGORITHM[KeyAlgorithm.EC_P256]
            + tlv(0x03, b"\x00" + signature)
            + self._certs,
        )
        response_bytes = tlv(0x30, _BASIC_OID + tlv(0x04, basic))
        return tlv(0x30, b"\x0a\x01\x00" + tlv(0xA0, response_bytes))


# id-pkix-ocsp-basic and id-pkix-ocsp-nonce; the CertID AlgorithmIdentifiers as OpenSSL
# writes them (with NULL parameters).
_BASIC_OID = bytes.fromhex("06092b0601050507300101")
_NONCE_OID = bytes.fromhex("06092b0601050507300102")
_CERT_ID_ALGORITHMS = {
    "sha1": bytes.fromhex("300906052b0e03021a0500"),
    "sha256": bytes.fromhex("300d06096086480165030402010500"),
}
_REASON_CODES = {  # CRLReason (RFC 5280 §5.3.1)
    "unspecified": 0,
    "keyCompromise": 1,
    "cACompromise": 2,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "certificateHold": 6,
    "privilegeWithdrawn": 9,
    "aACompromise": 10,
}


def _cert_id(cert_id: CertId) -> bytes:
    serial = cert_id.serial.to_bytes(cert_id.serial.bit_length() // 8 + 1, "big")
    return tlv(
        0x30,
        _CERT_ID_ALGORITHMS[cert_id.hash_algorithm]
        + tlv(0x04, cert_id.issuer_name_hash)
        + tlv(0x04, cert_id.issuer_key_hash)
        + tlv(0x02, serial),  # positive: a leading 0x00 when the top bit is set
    )


def _status(answer: Answer) -> bytes:
    """CertStatus: good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2]."""
    if answer.status == "good":
        return b"\x80\x00"
    if answer.status == "unknown":
        return b"\x82\x00"
    assert answer.revoked_at is not None
    info = _time(answer.revoked_at)
    # "unspecified" is left out: RFC 5280 §5.3.1 prefers an absent reason code to it.
    if answer.reason and answer.reason != "unspecified":
        info += tlv(0xA0, bytes([0x0A, 0x01, _REASON_CODES[answer.reason]]))
    return tlv(0xA1, info)


def _time(when: datetime) -> bytes:
    """GeneralizedTime, UTC, whole seconds (RFC 6960 §4.2.2.1 via RFC 5280 §4.1.2.5.2)."""
    return tlv(0x18, when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode())


_responders: dict[tuple[str, bytes], Responder] = {}
_lock = threading.Lock()


def responder(key_ref: str, cert_der: bytes) -> Responder:
    """The loaded responder for a key and certificate, kept per process."""
    key = (key_ref, bytes(cert_der))
    found = _responders.get(key)
    if found is None:
        found = Responder(key_ref, cert_der)
        with _lock:
            if len(_responders) > 64:  # old responders of renewed certificates
                _responders.clear()
            _responders[key] = found
    return found


def new_responder_key() -> tuple[str, bytes]:
    """A fresh EC P-256 responder key: (sealed reference, SubjectPublicKeyInfo DER)."""
    generated = SoftwareBackend(alias="ocsp").generate(KeyAlgorithm.EC_P256, "ocsp")
    public = serialization.load_pem_public_key(generated.public_key_pem.encode())
    spki = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return generated.reference, spki
