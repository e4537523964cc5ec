"""Inspecting PKCS#10 certificate requests (RFC 2986): everything a profile decides on."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from pki.crypto.keys import KeyAlgorithm, hash_for
from pki.crypto.names import eku_name, name_pairs


class CsrError(ValueError):
    """Not a PKCS#10 request we can read."""


@dataclass(frozen=True)
class CsrInfo:
    der: bytes
    subject: list[tuple[str, str]]  # (attribute short name or dotted OID, value), in order
    subject_text: str
    public_key_der: bytes  # SubjectPublicKeyInfo
    key_type: str  # "rsa" | "ec" | "ed25519" | "ed448" | "other"
    key_size: int  # RSA modulus bits, EC field bits, 256 for Ed25519
    curve: str | None  # "P-256", "P-384", "P-521", other names as given
    signature_valid: bool
    signature_hash: str | None
    dns_names: list[str] = field(default_factory=list)
    ip_addresses: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)
    requested_extensions: list[str] = field(default_factory=list)
    requested_ekus: list[str] = field(default_factory=list)
    challenge_password: str | None = None

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    def subject_value(self, name: str) -> str | None:
        return next((v for k, v in self.subject if k == name), None)


_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_PEM = re.compile(rb"-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----(.+?)-----END", re.S)


def decode(data: bytes | str) -> bytes:
    """PEM, or DER, or base64 of DER (what EST sends, RFC 7030 §4.2.1) → DER."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    match = _PEM.search(raw)
    if match:
        raw = match.group(1)
    elif raw[:1] == b"\x30":
        return raw
    try:
        return base64.b64decode(b"".join(raw.split()), validate=True)
    except ValueError:
        raise CsrError("not a PEM, DER or base64 PKCS#10 request") from None


def inspect(data: bytes | str) -> CsrInfo:
    der = decode(data)
    try:
        csr = x509.load_der_x509_csr(der)
        subject = csr.subject
        public_key = csr.public_key()
    except ValueError as exc:
        raise CsrError(f"not a PKCS#10 request: {exc}") from None
    try:
        signature_valid = csr.is_signature_valid
    except (UnsupportedAlgorithm, ValueError):  # what we cannot check is not proven
        signature_valid = False
    try:
        extensions = list(csr.extensions)
    except (ValueError, x509.DuplicateExtension) as exc:
        raise CsrError(f"unreadable requested extensions: {exc}") from None
    names = next(
        (e.value for e in extensions if isinstance(e.value, x509.SubjectAlternativeName)), None
    )
    ekus: list[x509.ObjectIdentifier] = next(
        (list(e.value) for e in extensions if isinstance(e.value, x509.ExtendedKeyUsage)), []
    )
    key_type, key_size, curve = key_facts(public_key)
    return CsrInfo(
        der=der,
        subject=name_pairs(subject),
        subject_text=subject.rfc4514_string(),
        public_key_der=public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        key_type=key_type,
        key_size=key_size,
        curve=curve,
        signature_valid=signature_valid,
        signature_hash=_hash_name(csr),
        dns_names=names.get_values_for_type(x509.DNSName) if names else [],
        ip_addresses=[str(i) for i in names.get_values_for_type(x509.IPAddress)] if names else [],
        emails=names.get_values_for_type(x509.RFC822Name) if names else [],
        uris=names.get_values_for_type(x509.UniformResourceIdentifier) if names else [],
        requested_extensions=[e.oid._name or e.oid.dotted_string for e in extensions],
        requested_ekus=[eku_name(oid) for oid in ekus],
        challenge_password=_challenge_password(csr),
    )


def _challenge_password(csr: x509.CertificateSigningRequest) -> str | None:
    try:
        value = csr.attributes.get_attribute_for_oid(x509.oid.AttributeOID.CHALLENGE_PASSWORD).value
    except (x509.AttributeNotFound, ValueError):
        return None
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _hash_name(csr: x509.CertificateSigningRequest) -> str | None:
    try:
        algorithm = csr.signature_hash_algorithm
    except (UnsupportedAlgorithm, ValueError):
        return None
    return algorithm.name if algorithm is not None else None


def key_facts(public_key: object) -> tuple[str, int, str | None]:
    """(key type, size in bits, curve name or None) of a public key: what profiles check."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return "rsa", public_key.key_size, None
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        name = public_key.curve.name
        return "ec", public_key.curve.key_size, _CURVES.get(name, name)
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "ed25519", 256, None
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "ed448", 456, None
    return "other", 0, None


@dataclass(frozen=True)
class NewKey:
    private_key_pkcs8: bytes  # DER, unencrypted: the caller hands it out once, then drops it
    csr_der: bytes


def new_key_and_csr(
    algorithm: KeyAlgorithm, common_name: str, dns_names: list[str], ip_addresses: list[str]
) -> NewKey:
    """A fresh key and a CSR for it (RFC 2986), for a certificate whose key the server makes:
    the CSR goes through the same profile check as any other."""
    from pki.crypto.backends.software import generate_private_key

    key = generate_private_key(algorithm)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    try:
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        builder = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        )
    except ValueError as exc:
        raise CsrError(str(exc)) from None
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    digest = hash_for(algorithm)
    csr = builder.sign(key, digest)  # type: ignore[arg-type]
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return NewKey(pkcs8, csr.public_bytes(serialization.Encoding.DER))
