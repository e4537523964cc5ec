"""Containers: PKCS#7 certs-only (RFC 5652 §5 degenerate SignedData, as EST sends), PKCS#12
(RFC 7292) import and export, and PEM bundles."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12


class ContainerError(ValueError):
    pass


def certs_only(certificates_der: list[bytes]) -> bytes:
    """A degenerate SignedData carrying only certificates, DER."""
    certs = [x509.load_der_x509_certificate(d) for d in certificates_der]
    return pkcs7.serialize_certificates(certs, serialization.Encoding.DER)


def read_certs_only(data: bytes) -> list[bytes]:
    try:
        if b"-----BEGIN" in data:
            certs = pkcs7.load_pem_pkcs7_certificates(data)
        else:
            certs = pkcs7.load_der_pkcs7_certificates(data)
    except ValueError as exc:
        raise ContainerError(f"not a PKCS#7 certificate bag: {exc}") from None
    return [c.public_bytes(serialization.Encoding.DER) for c in certs]


@dataclass(frozen=True)
class KeyAndCertificates:
    private_key_pkcs8: bytes
    certificate_der: bytes
    chain_der: list[bytes]


def read_pkcs12(data: bytes, password: str | None) -> KeyAndCertificates:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(
            data, password.encode() if password else None
        )
    except ValueError as exc:
        raise ContainerError(f"cannot open the PKCS#12 file (wrong password?): {exc}") from None
    if key is None or cert is None:
        raise ContainerError("the PKCS#12 file must hold a private key and its certificate")
    return KeyAndCertificates(
        private_key_pkcs8=key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        certificate_der=cert.public_bytes(serialization.Encoding.DER),
        chain_der=[c.public_bytes(serialization.Encoding.DER) for c in extra],
    )


def read_private_key(data: bytes, password: str | None = None) -> bytes:
    """PEM or DER private key (PKCS#8, PKCS#1, SEC1; encrypted when a password is given)
    → unencrypted PKCS#8 DER, for handing to a key backend at once."""
    pw = password.encode() if password else None
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, pw)
        else:
            key = serialization.load_der_private_key(data, pw)
    except (ValueError, TypeError) as exc:
        raise ContainerError(f"not a readable private key: {exc}") from None
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_pkcs12(
    name: str,
    private_key_pkcs8: bytes,
    certificate_der: bytes,
    chain_der: list[bytes],
    password: str,
) -> bytes:
    """Password-protected PKCS#12 with AES-256 and PBKDF2 (not the legacy RC2/3DES), which
    OpenSSL 3 reads without the legacy provider."""
    if not password:
        raise ContainerError("a PKCS#12 file we hand out must have a password")
    key = serialization.load_der_private_key(private_key_pkcs8, None)
    return pkcs12.serialize_key_and_certificates(
        name.encode(),
        key,  # type: ignore[arg-type]
        x509.load_der_x509_certificate(certificate_der),
        [x509.load_der_x509_certificate(d) for d in chain_der] or None,
        serialization.BestAvailableEncryption(password.encode()),
    )


@dataclass(frozen=True)
class PemBlock:
    label: str  # "CERTIFICATE", "PRIVATE KEY", ...
    der: bytes


_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)


def split_pem(text: str | bytes) -> list[PemBlock]:
    """Every PEM block in order. Base64 that does not decode is an error, not skipped."""
    raw = text.decode("ascii", errors="replace") if isinstance(text, bytes) else text
    blocks = []
    for label, body in _BLOCK.findall(raw):
        lines = [line for line in body.splitlines() if ":" not in line]  # skip RFC 1421 headers
        try:
            der = base64.b64decode("".join(lines).replace(" ", ""), validate=True)
        except ValueError:
            raise ContainerError(f"a {label} block is not valid base64") from None
        blocks.append(PemBlock(label, der))
    return blocks


def is_private_key_label(label: str) -> bool:
    return "PRIVATE KEY" in label


def pem(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"
