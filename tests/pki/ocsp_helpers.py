"""Shared by the OCSP tests: a leaf issued through the one path, files for openssl, the real
`openssl ocsp` client, and requests built by `cryptography` for what openssl cannot send."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from django.contrib.auth.models import User

from pki.crypto import certs
from pki.models import CertificateAuthority, Domain, IssuedCertificate
from pki.services.issuance import IssueRequest, issue


@dataclass
class Leaf:
    cert: IssuedCertificate
    leaf: Path
    issuer: Path
    cafile: Path


def issue_leaf(
    domain: Domain,
    root: CertificateAuthority,
    issuing: CertificateAuthority,
    user: User,
    make_csr: Callable[..., bytes],
    tmp_path: Path,
    cn: str = "www.alpha.test",
) -> Leaf:
    issued = issue(
        IssueRequest(
            domain=domain, profile="tls-server", protocol="api", user=user, csr=make_csr(cn)
        )
    )
    cert = issued.certificate
    leaf = tmp_path / f"{cert.serial}.pem"
    leaf.write_text(certs.der_to_pem(bytes(cert.der)))
    issuer = tmp_path / f"{issuing.slug}.pem"
    issuer.write_text(certs.der_to_pem(bytes(issuing.certificate)))
    cafile = tmp_path / f"{root.slug}-trust.pem"
    cafile.write_text(
        certs.der_to_pem(bytes(root.certificate)) + certs.der_to_pem(bytes(issuing.certificate))
    )
    return Leaf(cert, leaf, issuer, cafile)


@dataclass
class OcspResult:
    status: str  # good | revoked | unknown | error
    stdout: str
    stderr: str

    @property
    def verified(self) -> bool:
        return "Response verify OK" in self.stderr


def openssl_ocsp(leaf: Leaf, url: str, *extra: str, digest: str | None = None) -> OcspResult:
    """`openssl ocsp` for the leaf; `digest` (e.g. "-sha256") hashes the CertID."""
    done = subprocess.run(
        [
            "openssl", "ocsp", "-issuer", str(leaf.issuer), *([digest] if digest else []),
            "-cert", str(leaf.leaf),
            "-url", url, "-CAfile", str(leaf.cafile), "-timeout", "10", *extra,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    found = re.search(rf"{re.escape(str(leaf.leaf))}: (\w+)", done.stdout)
    return OcspResult(found.group(1) if found else "error", done.stdout, done.stderr)


def ocsp_request(
    leaf_der: bytes, issuer_der: bytes, algorithm: hashes.HashAlgorithm | None = None
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        x509.load_der_x509_certificate(leaf_der),
        x509.load_der_x509_certificate(issuer_der),
        algorithm or hashes.SHA1(),  # noqa: S303 (the CertID hash clients use)
    )
    return builder.build().public_bytes(serialization.Encoding.DER)


def request_by_hash(
    template: bytes, *, serial: int | None = None, nonce: bytes | None = None
) -> bytes:
    """A request for the CertID of `template` (a DER request), with another serial or a
    nonce: what `openssl ocsp` will not send."""
    parsed = ocsp.load_der_ocsp_request(template)
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        parsed.issuer_name_hash,
        parsed.issuer_key_hash,
        parsed.serial_number if serial is None else serial,
        parsed.hash_algorithm,
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def post(url: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
    return fetch(
        urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/ocsp-request"}, method="POST"
        )
    )


def fetch(request: urllib.request.Request | str) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def response_status(body: bytes) -> str:
    return ocsp.load_der_ocsp_response(body).response_status.name


def wait_for(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()
