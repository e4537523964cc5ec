"""Real certificates for the bundle validation tests and bench, built with cryptography."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

NOW = datetime.now(UTC)
Key = Any  # a private key of any supported kind


def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, bits)


def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def make(
    cn: str,
    key: Key,
    issuer: tuple[x509.Certificate, Key] | None = None,
    *,
    ca: bool = True,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    hash_alg: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = None,
    issuer_cn: str | None = None,
) -> x509.Certificate:
    """A certificate for `key`; self-signed unless `issuer` (its certificate and key) is given."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    if issuer is not None:
        issuer_name, signing_key = issuer[0].subject, issuer[1]
    else:
        issuer_name, signing_key = name, key
    if issuer_cn is not None:
        issuer_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)])
    pub = key.public_key()
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - timedelta(days=1))
        .not_valid_after(not_after or NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    if issuer is not None:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key())
        b = b.add_extension(aki, critical=False)
    if isinstance(signing_key, ed25519.Ed25519PrivateKey):
        return b.sign(signing_key, None)
    return b.sign(signing_key, hash_alg or hashes.SHA256())


def chain(depth: int, prefix: str = "CA") -> list[tuple[x509.Certificate, Key]]:
    """Root first, then `depth - 1` intermediates, each issued by the previous one."""
    key = p256()
    out = [(make(f"{prefix} root", key), key)]
    for n in range(1, depth):
        k = p256()
        out.append((make(f"{prefix} level {n}", k, out[-1]), k))
    return out


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def openssl_ca(tmp: Path, cn: str, digest: str, issuer: str | None = None) -> bytes:
    """An RSA-2048 CA certificate made by the openssl CLI (cryptography no longer signs with
    SHA-1); `issuer` names an earlier call's `cn` whose key signs it. Returns PEM."""
    stem = tmp / cn.replace(" ", "_")
    ext = tmp / "ext.cnf"
    ext.write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    run = partial(subprocess.run, check=True, capture_output=True)
    if issuer is None:
        run(["openssl", "req", "-x509", f"-{digest}", "-newkey", "rsa:2048", "-nodes",
             "-keyout", f"{stem}.key", "-out", f"{stem}.pem", "-subj", f"/CN={cn}",
             "-days", "3650", "-addext", "basicConstraints=critical,CA:TRUE"])  # fmt: skip
    else:
        parent = tmp / issuer.replace(" ", "_")
        run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
             f"{stem}.key", "-out", f"{stem}.csr", "-subj", f"/CN={cn}"])  # fmt: skip
        run(["openssl", "x509", "-req", f"-{digest}", "-in", f"{stem}.csr", "-CA",
             f"{parent}.pem", "-CAkey", f"{parent}.key", "-set_serial", "7", "-days", "365",
             "-extfile", str(ext), "-out", f"{stem}.pem"])  # fmt: skip
    return Path(f"{stem}.pem").read_bytes()
