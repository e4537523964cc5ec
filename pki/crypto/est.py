"""What the EST front end (RFC 7030) needs from the crypto boundary: the CSR attributes answer
(§4.5.2), a server-generated key and its CSR (§4.4), the client certificate a TLS proxy passes
on, whether it chains to a truststore, and whether a re-enrollment keeps its identity
(§4.2.2). PKCS#7 certs-only lives in pki.crypto.pkcs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pki.crypto import certs
from pki.crypto.bundles import read_bundle
from pki.crypto.der import tlv
from pki.crypto.names import SUBJECT_ATTRIBUTES

_SEQUENCE, _SET, _OID = 0x30, 0x31, 0x06
EXTENSION_REQUEST = "1.2.840.113549.1.9.14"  # PKCS#9 extensionRequest (RFC 2985 §5.4.2)
SUBJECT_ALT_NAME = "2.5.29.17"


class EstCryptoError(ValueError):
    pass


def oid_der(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER, DER (X.690 §8.19)."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2:
        raise EstCryptoError(f"not an OID: {dotted}")
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return tlv(_OID, bytes(body))


def subject_attribute_oid(short_name: str) -> str:
    """The OID of a subject attribute the profiles name (CN, O, serialNumber, ...)."""
    oid = SUBJECT_ATTRIBUTES.get(short_name)
    if oid is None:
        raise EstCryptoError(f"unknown subject attribute {short_name}")
    return oid.dotted_string


def csr_attributes(oids: list[str], extension_oids: list[str]) -> bytes:
    """CsrAttrs ::= SEQUENCE OF AttrOrOID (RFC 7030 §4.5.2): each OID the request must
    carry, and one extensionRequest attribute listing the extensions it must request."""
    items = [oid_der(o) for o in oids]
    if extension_oids:
        values = tlv(_SET, b"".join(oid_der(o) for o in extension_oids))
        items.append(tlv(_SEQUENCE, oid_der(EXTENSION_REQUEST) + values))
    return tlv(_SEQUENCE, b"".join(items))


@dataclass(frozen=True)
class ServerKey:
    private_key_pkcs8: bytes  # DER, unencrypted: the answer protects it (TLS), §4.4.2
    csr_der: bytes  # the client's subject and requested extensions, signed with the new key


def server_key_and_csr(client_csr_der: bytes) -> ServerKey:
    """A new key of the kind the client's CSR names (same curve, RSA size, or Ed25519) and a
    CSR for it with the client's subject and requested extensions (RFC 7030 §4.4.1: the
    client's own key in its request is not the one certified)."""
    try:
        client = x509.load_der_x509_csr(client_csr_der)
        public = client.public_key()
        extensions = list(client.extensions)
    except (ValueError, x509.DuplicateExtension) as exc:
        raise EstCryptoError(f"not a PKCS#10 request: {exc}") from None
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if isinstance(public, ec.EllipticCurvePublicKey):
        key = ec.generate_private_key(public.curve)
    elif isinstance(public, rsa.RSAPublicKey):
        key = rsa.generate_private_key(65537, max(2048, public.key_size))
    elif isinstance(public, ed25519.Ed25519PublicKey):
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(client.subject)
    for ext in extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = builder.sign(key, digest)
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ServerKey(pkcs8, csr.public_bytes(serialization.Encoding.DER))


def proxied_certificate(header: str) -> bytes:
    """The client certificate nginx passes in `$ssl_client_escaped_cert` (URL-escaped PEM),
    as DER."""
    text = unquote(header.strip())
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise EstCryptoError("the client certificate header holds no PEM certificate")
    try:
        cert = x509.load_pem_x509_certificate(text.encode())
    except ValueError as exc:
        raise EstCryptoError(f"unreadable client certificate: {exc}") from None
    return cert.public_bytes(serialization.Encoding.DER)


def chains_to(leaf_der: bytes, bundle: bytes, at: datetime) -> bool:
    """Whether `leaf_der`, valid at `at`, is signed by a CA certificate of the bundle that is
    valid at `at`. Every certificate of a truststore bundle is a trust anchor (the bundle
    must hold the CA that issued the client certificates: nginx passes the leaf alone)."""
    try:
        pool = [x509.load_der_x509_certificate(d) for d in read_bundle(bundle)]
        cert = x509.load_der_x509_certificate(leaf_der)
    except ValueError:
        return False
    return _current(cert, at) and any(_issues(c, cert, at) for c in pool)


def _current(cert: x509.Certificate, at: datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


def _issues(issuer: x509.Certificate, cert: x509.Certificate, at: datetime) -> bool:
    try:
        bc = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return bc.ca and _current(issuer, at) and certs.signed_by(cert, issuer)


def identity_changes(cert_der: bytes, csr_der: bytes) -> list[str]:
    """How a re-enrollment request differs from the certificate it renews in subject and
    subjectAltName (RFC 7030 §4.2.2: they must be the same); empty when it keeps them."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        csr = x509.load_der_x509_csr(csr_der)
    except ValueError as exc:
        raise EstCryptoError(str(exc)) from None
    reasons = []
    if cert.subject != csr.subject:
        reasons.append(
            f"the subject {csr.subject.rfc4514_string()!r} differs from the certificate's "
            f"{cert.subject.rfc4514_string()!r}"
        )
    if _sans(cert.extensions) != _sans(csr.extensions):
        reasons.append("the subjectAltName differs from the certificate's")
    return reasons


def _sans(extensions: x509.Extensions) -> set[str]:
    try:
        value = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {f"{type(n).__name__}:{n.value}" for n in value}
