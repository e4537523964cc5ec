"""CA bundles for truststores: read a PEM bundle, a PKCS#7 certs-only or one DER certificate,
refuse anything carrying a private key, and report each certificate's facts once.

Each certificate is parsed exactly once; the facts keep the parsed object so that chain
building (truststores.validation) can check a signature without parsing again.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PSS, PKCS1v15
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

MAX_BYTES = 5 * 1024 * 1024
MAX_CERTIFICATES = 5000

# PFX (RFC 7292 §4): SEQUENCE { version INTEGER 3, authSafe ContentInfo { id-data ... } }
_PFX_VERSION = b"\x02\x01\x03"
_ID_DATA = bytes.fromhex("06092a864886f70d010701")
# The body excludes "-": base64 never has one, and the scan from each BEGIN stops at the next
# dash, so BEGIN lines without END cost linear time, not quadratic (5 MB of them is a DoS).
_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \1-----")
_PKCS7_LABELS = {"PKCS7", "CMS"}


class BundleRefused(ValueError):
    """The input is not a usable CA bundle; `reason` says why, for a 400 answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CertFacts:
    der: bytes
    subject: str  # RFC 4514
    issuer: str
    fingerprint_sha256: str
    is_ca: bool  # basicConstraints present with cA TRUE (RFC 5280 §4.2.1.9)
    not_before: datetime
    not_after: datetime
    key_algorithm: str  # rsa | ec | ed25519 | ed448 | dsa | unknown
    key_size: int
    curve: str | None  # "P-256", "P-384", ... for EC keys
    signature_algorithm: str  # e.g. sha256WithRSAEncryption
    signature_hash: str | None  # sha256, sha1, ...; None for Ed25519 or unknown
    self_issued: bool  # subject == issuer (RFC 5280 §6.1: "self-issued")
    self_signed: bool  # self-issued and verified by its own key
    ski: str | None
    aki: str | None
    cert: x509.Certificate = field(repr=False, compare=False)


def read_bundle(data: bytes) -> list[bytes]:
    """The DER certificates of a PEM bundle, PKCS#7 certs-only (DER or PEM) or DER certificate."""
    return [c.public_bytes(serialization.Encoding.DER) for c in _read(data)]


def inspect(data: bytes) -> list[CertFacts]:
    """read_bundle, then the facts of each certificate, in bundle order."""
    return [facts(c) for c in _read(data)]


def signed_by(cert: CertFacts, issuer: CertFacts) -> bool:
    """Whether `issuer`'s key made `cert`'s signature. The names are the caller's business:
    chain building looks candidates up by a normalised issuer DN (RFC 5280 §7.1), which may
    match where the encoded names differ in case or spacing."""
    return _verifies(cert.cert, issuer.cert)


def _verifies(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer == issuer.subject:
        try:
            cert.verify_directly_issued_by(issuer)
            return True
        except (InvalidSignature, TypeError):
            return False
        except (ValueError, UnsupportedAlgorithm):
            pass
    # By hand: cryptography no longer verifies SHA-1 certificate signatures, but policy needs
    # to know whether a SHA-1 link is genuine (then fails it for its hash) and whether a SHA-1
    # root is really self-signed (then only warns); and verify_directly_issued_by insists on
    # byte-equal names.
    try:
        digest = cert.signature_hash_algorithm
        key = issuer.public_key()
        tbs, sig = cert.tbs_certificate_bytes, cert.signature
        pad = cert.signature_algorithm_parameters  # PKCS1v15() or PSS(...) for RSA
        if isinstance(key, rsa.RSAPublicKey) and isinstance(pad, PSS | PKCS1v15) and digest:
            key.verify(sig, tbs, pad, digest)
        elif isinstance(key, ec.EllipticCurvePublicKey) and digest is not None:
            key.verify(sig, tbs, ec.ECDSA(digest))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(sig, tbs)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def facts(cert: x509.Certificate) -> CertFacts:
    der = cert.public_bytes(serialization.Encoding.DER)
    algorithm, size, curve = _key(cert)
    try:
        hash_alg = cert.signature_hash_algorithm
        sig_hash = hash_alg.name if hash_alg is not None else None
    except UnsupportedAlgorithm:
        sig_hash = None
    oid = cert.signature_algorithm_oid
    sig_name = getattr(oid, "_name", None) or oid.dotted_string
    subject, issuer = cert.subject, cert.issuer  # each access builds Name objects anew
    self_issued = subject == issuer
    self_signed = self_issued and _verifies(cert, cert)
    is_ca, ski, aki = _extensions(cert)
    return CertFacts(
        der=der,
        subject=subject.rfc4514_string(),
        issuer=issuer.rfc4514_string(),
        fingerprint_sha256=hashlib.sha256(der).hexdigest(),
        is_ca=is_ca,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_algorithm=algorithm,
        key_size=size,
        curve=curve,
        signature_algorithm=sig_name if sig_name != "Unknown OID" else oid.dotted_string,
        signature_hash=sig_hash,
        self_issued=self_issued,
        self_signed=self_signed,
        ski=ski,
        aki=aki,
        cert=cert,
    )


def _read(data: bytes) -> list[x509.Certificate]:
    if len(data) > MAX_BYTES:
        raise BundleRefused(f"the bundle is larger than {MAX_BYTES // (1024 * 1024)} MB")
    if not data.strip():
        raise BundleRefused("the bundle is empty")
    certs = _read_pem(data) if b"-----BEGIN" in data else _read_der(data)
    if not certs:
        raise BundleRefused("the bundle holds no certificate")
    if len(certs) > MAX_CERTIFICATES:
        raise BundleRefused(f"the bundle holds more than {MAX_CERTIFICATES} certificates")
    return certs


def _read_pem(data: bytes) -> list[x509.Certificate]:
    # Checked before any parsing and on the raw text: a key block cut short still counts.
    if b"PRIVATE KEY" in data:
        raise BundleRefused("the bundle contains a private key; it is refused outright")
    begins = data.count(b"-----BEGIN ")
    if begins > MAX_CERTIFICATES:
        raise BundleRefused(f"the bundle holds more than {MAX_CERTIFICATES} certificates")
    # One pass of one bytes regex (pkcs.split_pem decodes to str and is 3x slower here).
    blocks = _BLOCK.findall(data)
    if len(blocks) != begins:
        raise BundleRefused(
            "a PEM block is truncated or malformed: a BEGIN line without its END line"
        )
    certs: list[x509.Certificate] = []
    for n, (raw_label, body) in enumerate(blocks, 1):
        label = raw_label.decode("ascii")
        if b":" in body:  # RFC 1421 headers
            body = b"".join(line for line in body.splitlines() if b":" not in line)
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except ValueError:
            raise BundleRefused(
                f"PEM block {n} ({label}) is not valid base64 (truncated?)"
            ) from None
        if label == "CERTIFICATE":
            try:
                certs.append(x509.load_der_x509_certificate(der))
            except ValueError:
                raise BundleRefused(f"PEM block {n} (CERTIFICATE) is not a certificate") from None
        elif label in _PKCS7_LABELS:
            certs.extend(_pkcs7(der))
        else:
            raise BundleRefused(f"PEM block {n} is a {label}, not a CERTIFICATE")
    return certs


def _read_der(data: bytes) -> list[x509.Certificate]:
    if data[:1] != b"\x30":  # every DER form we accept is a SEQUENCE
        raise BundleRefused("not a PEM bundle, a PKCS#7 certs-only or a DER certificate")
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        pass
    if _looks_like_key(data):
        raise BundleRefused("the data is a private key or a PKCS#12 file; it is refused outright")
    try:
        return _pkcs7(data)
    except BundleRefused:
        raise BundleRefused("not a PEM bundle, a PKCS#7 certs-only or a DER certificate") from None


def _pkcs7(der: bytes) -> list[x509.Certificate]:
    try:
        return pkcs7.load_der_pkcs7_certificates(der)
    except (ValueError, UnsupportedAlgorithm):
        raise BundleRefused("a PKCS#7 structure that is not a certs-only bag") from None


def _looks_like_key(data: bytes) -> bool:
    if _PFX_VERSION in data[:8] and _ID_DATA in data[:40]:
        return True
    try:
        serialization.load_der_private_key(data, None)
    except TypeError:  # encrypted PKCS#8: a key all the same
        return True
    except (ValueError, UnsupportedAlgorithm):
        pass
    else:
        return True
    try:
        pkcs12.load_key_and_certificates(data, None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _extensions(cert: x509.Certificate) -> tuple[bool, str | None, str | None]:
    """cA flag (RFC 5280 §4.2.1.9: absent basicConstraints means not a CA), SKI, AKI keyId."""
    is_ca, ski, aki = False, None, None
    for ext in cert.extensions:
        v = ext.value
        if isinstance(v, x509.BasicConstraints):
            is_ca = v.ca
        elif isinstance(v, x509.SubjectKeyIdentifier):
            ski = v.digest.hex()
        elif isinstance(v, x509.AuthorityKeyIdentifier) and v.key_identifier:
            aki = v.key_identifier.hex()
    return is_ca, ski, aki


_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def _key(cert: x509.Certificate) -> tuple[str, int, str | None]:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown", 0, None
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec", key.curve.key_size, _CURVES.get(key.curve.name, key.curve.name)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "dsa", key.key_size, None
    return "unknown", 0, None
