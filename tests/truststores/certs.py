"""Test CAs for the truststore request tests, made with `cryptography`: a root and an
issuing CA (a complete chain), a leaf (which fails validation) and a key (refused)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def make(cn: str, issuer: Issued | None = None, *, ca: bool = True) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.now(UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(ski, critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def chain(prefix: str) -> tuple[Issued, Issued]:
    """A self-signed root and an issuing CA under it."""
    root = make(f"{prefix} Root CA")
    return root, make(f"{prefix} Issuing CA", root)


def good_bundle(prefix: str = "Test") -> bytes:
    root, issuing = chain(prefix)
    return issuing.pem + root.pem


def failing_bundle(prefix: str = "Leafy") -> bytes:
    """Parses, but holds a leaf certificate: validation's verdict is `fail`."""
    root, issuing = chain(prefix)
    leaf = make(f"{prefix} leaf", issuing, ca=False)
    return leaf.pem + issuing.pem + root.pem
