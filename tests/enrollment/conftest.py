"""EST fixtures: domain alpha with a local PKI and the default profiles, a credential, CSRs
(base64 DER, as EST sends them) and a client posting them."""

from __future__ import annotations

import base64
import email
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client

from enrollment import services
from enrollment.models import EnrollmentCredential
from pki.crypto.keys import KeyAlgorithm
from pki.crypto.pkcs import read_certs_only
from pki.models import CertificateAuthority, Domain
from pki.services.default_profiles import ensure_default_profiles
from pki.services.hierarchy import create_local_pki

SUFFIXES = ["alpha.test", "localhost"]


@pytest.fixture
def est_pki(domain: Domain) -> tuple[CertificateAuthority, CertificateAuthority]:
    root, issuing = create_local_pki(domain, KeyAlgorithm.EC_P256)
    ensure_default_profiles(domain, issuing, SUFFIXES)
    return root, issuing


@dataclass
class Cred:
    credential: EnrollmentCredential
    username: str
    password: str

    @property
    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@pytest.fixture
def cred(domain: Domain, est_pki: object) -> Cred:
    credential, secret = services.create_credential(domain, None, username="dev1")
    return Cred(credential, "dev1", secret)


@dataclass
class Csr:
    key: ec.EllipticCurvePrivateKey
    der: bytes

    @property
    def b64(self) -> bytes:
        return base64.b64encode(self.der)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def make_csr(
    cn: str = "d1.alpha.test",
    sans: list[str] | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> Csr:
    private = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    )
    names = [cn] if sans is None else sans
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    csr = builder.sign(private, hashes.SHA256())
    return Csr(private, csr.public_bytes(serialization.Encoding.DER))


@pytest.fixture
def est_client() -> Client:
    return Client(raise_request_exception=False)


def post(client: Client, path: str, body: bytes, auth: str | None = None, **extra: Any) -> Any:
    headers: dict[str, Any] = {"HTTP_CONTENT_TRANSFER_ENCODING": "base64", **extra}
    if auth:
        headers["HTTP_AUTHORIZATION"] = auth
    return client.post(path, body, content_type="application/pkcs10", **headers)


def certs_of(body: bytes) -> list[x509.Certificate]:
    ders = read_certs_only(base64.b64decode(b"".join(body.split())))
    return [x509.load_der_x509_certificate(d) for d in ders]


def multipart(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    """The parts of a multipart/mixed answer by media type: (Content-Transfer-Encoding,
    decoded body)."""
    message = email.message_from_bytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    out: dict[str, tuple[str, bytes]] = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        raw = part.get_payload(decode=False)
        assert isinstance(raw, str)
        out[part.get_content_type()] = (
            str(part["Content-Transfer-Encoding"]),
            base64.b64decode(raw.encode()),
        )
    return out
