"""PrivateCA (AWS Private CA upstream) against a real moto_server process over HTTP.

What moto 5.2.5's acm-pca does (and real AWS Private CA does differently): the CA key is
always RSA-2048 whatever KeyAlgorithm says, certificates are always signed with
sha512WithRSAEncryption whatever SigningAlgorithm says, always valid for 365 days whatever
Validity says, IdempotencyToken is ignored, and GetCertificate answers at once (never
RequestInProgressException). The polling path is exercised against a small local HTTP
server speaking the acm-pca JSON protocol instead.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pki.crypto import certs
from pki.crypto.upstream.awspca import PrivateCA, UpstreamError
from tests.pki.crypto.conftest_aws import CREDENTIALS, REGION, free_port
from tests.pki.helpers import assert_verifies

ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1"


def make_root_ca(endpoint: str) -> str:
    """A ROOT CA in moto made ACTIVE the way AWS documents it: issue the CA's own CSR with the
    RootCACertificate template, then import the result as the CA certificate."""
    client = boto3.client(
        "acm-pca",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arn: str = client.create_certificate_authority(
        CertificateAuthorityConfiguration={
            "KeyAlgorithm": "RSA_2048",
            "SigningAlgorithm": "SHA256WITHRSA",
            "Subject": {"Country": "NL", "Organization": "Anchorage Test", "CommonName": "PCA"},
        },
        CertificateAuthorityType="ROOT",
    )["CertificateAuthorityArn"]
    csr = client.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    root_arn = client.issue_certificate(
        CertificateAuthorityArn=arn,
        Csr=csr.encode(),
        SigningAlgorithm="SHA256WITHRSA",
        TemplateArn=ROOT_TEMPLATE,
        Validity={"Value": 10, "Type": "YEARS"},
    )["CertificateArn"]
    root = client.get_certificate(CertificateAuthorityArn=arn, CertificateArn=root_arn)
    client.import_certificate_authority_certificate(
        CertificateAuthorityArn=arn, Certificate=root["Certificate"].encode()
    )
    status = client.describe_certificate_authority(CertificateAuthorityArn=arn)
    assert status["CertificateAuthority"]["Status"] == "ACTIVE"
    return arn


@pytest.fixture(scope="module")
def pca_arn(moto_server: str) -> str:
    return make_root_ca(moto_server)


def private_ca(endpoint: str, arn: str, **kw: object) -> PrivateCA:
    return PrivateCA(arn, REGION, endpoint, **CREDENTIALS, **kw)  # type: ignore[arg-type]


def make_csr(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, name: str) -> bytes:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.DER)


def spki(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("curve", ["p256", "rsa2048"])
def test_issue_returns_a_certificate_that_chains(
    moto_server: str, pca_arn: str, tmp_path: Path, curve: str
) -> None:
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if curve == "p256"
        else (rsa.generate_private_key(65537, 2048))
    )
    pca = private_ca(moto_server, pca_arn)
    issued = pca.issue(
        make_csr(key, "svc.example"),
        validity_days=30,
        signing_algorithm="SHA256WITHRSA",
        idempotency_token=uuid.uuid4().hex,
    )
    leaf = x509.load_der_x509_certificate(issued.certificate_der)
    assert spki(leaf.public_key()) == spki(key.public_key())
    assert leaf.subject.rfc4514_string() == "CN=svc.example"
    assert issued.certificate_arn.startswith(pca_arn + "/certificate/")

    ca_der, ca_chain = pca.ca_certificate()
    assert ca_chain == []  # a root has nothing above it
    assert issued.chain_der == [ca_der]  # GetCertificate's chain: the issuing CA up to the root
    assert certs.info(ca_der).self_signed
    assert certs.signed_by(issued.certificate_der, ca_der)

    assert_verifies(
        tmp_path, trusted=[ca_der], target=issued.certificate_der, extra=("-x509_strict",)
    )


def test_unknown_ca_arn(moto_server: str, pca_arn: str) -> None:
    unknown = pca_arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    pca = private_ca(moto_server, unknown)
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()), "x.example")
    with pytest.raises(UpstreamError, match="ResourceNotFoundException"):
        pca.issue(csr, 30, "SHA256WITHECDSA")
    with pytest.raises(UpstreamError, match="ResourceNotFoundException"):
        pca.ca_certificate()


def test_ca_without_certificate(moto_server: str) -> None:
    client = boto3.client(
        "acm-pca",
        endpoint_url=moto_server,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arn = client.create_certificate_authority(
        CertificateAuthorityConfiguration={
            "KeyAlgorithm": "RSA_2048",
            "SigningAlgorithm": "SHA256WITHRSA",
            "Subject": {"CommonName": "pending"},
        },
        CertificateAuthorityType="ROOT",
    )["CertificateAuthorityArn"]
    with pytest.raises(UpstreamError, match="InvalidStateException"):
        private_ca(moto_server, arn).ca_certificate()


def test_bad_input_is_refused_before_calling_aws(pca_arn: str) -> None:
    pca = private_ca(f"http://127.0.0.1:{free_port()}", pca_arn)
    with pytest.raises(UpstreamError, match="PKCS#10"):
        pca.issue(b"not a csr", 30, "SHA256WITHRSA")
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()), "x.example")
    with pytest.raises(UpstreamError, match="at least one day"):
        pca.issue(csr, 0, "SHA256WITHECDSA")


def test_server_down_fails_fast(pca_arn: str) -> None:
    pca = private_ca(
        f"http://127.0.0.1:{free_port()}",
        pca_arn,
        connect_timeout=1,
        retries={"max_attempts": 1},
    )
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()), "x.example")
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="Could not connect"):
        pca.issue(csr, 30, "SHA256WITHECDSA")
    assert time.monotonic() - started < 5


class _SlowPCA(BaseHTTPRequestHandler):
    """IssueCertificate at once; GetCertificate 'in progress' for the first `pending` polls."""

    pending = 0
    certificate_pem = ""
    polls = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith(".IssueCertificate"):
            self._reply(200, {"CertificateArn": "arn:aws:acm-pca:us-east-1:1:ca/x/certificate/y"})
        elif target.endswith(".GetCertificate"):
            type(self).polls += 1
            if type(self).polls <= type(self).pending:
                self._reply(400, {"__type": "RequestInProgressException", "message": "wait"})
            else:
                self._reply(200, {"Certificate": type(self).certificate_pem})
        else:
            self._reply(400, {"__type": "ValidationException", "message": target})

    def _reply(self, status: int, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_pca() -> Iterator[tuple[str, type[_SlowPCA]]]:
    handler = type("Handler", (_SlowPCA,), {"polls": 0, "pending": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _self_signed_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "polled")])
    now = certs.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_issue_polls_until_the_certificate_exists(
    slow_pca: tuple[str, type[_SlowPCA]],
) -> None:
    endpoint, handler = slow_pca
    handler.pending = 2
    handler.certificate_pem = _self_signed_pem()
    pca = private_ca(endpoint, "arn:aws:acm-pca:us-east-1:1:ca/x", poll_interval=0.05)
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()), "x.example")
    issued = pca.issue(csr, 30, "SHA256WITHECDSA")
    assert handler.polls == 3
    assert issued.chain_der == []
    assert x509.load_der_x509_certificate(issued.certificate_der).subject.rfc4514_string() == (
        "CN=polled"
    )


def test_issue_times_out(slow_pca: tuple[str, type[_SlowPCA]]) -> None:
    endpoint, handler = slow_pca
    handler.pending = 10_000
    pca = private_ca(endpoint, "arn:aws:acm-pca:us-east-1:1:ca/x", poll_interval=0.05, timeout=0.3)
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()), "x.example")
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="did not issue"):
        pca.issue(csr, 30, "SHA256WITHECDSA")
    assert time.monotonic() - started < 2
    assert handler.polls >= 2
