"""The formats consumers load a trust list from: a PEM bundle, PKCS#7 certs-only (RFC 5652
§5, degenerate SignedData), and a Java truststore: PKCS#12 (RFC 7292) whose bags are
certificates carrying Oracle's trusted-key-usage attribute, which is what makes keytool and
the JDK list them as trustedCertEntry (a plain certificate bag is ignored by Java)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from pki.crypto.pkcs import ContainerError, certs_only, pem


@dataclass(frozen=True)
class Anchor:
    """One CA of a list: its DER and the alias it goes by in a keystore."""

    der: bytes
    alias: str


def pem_bundle(anchors: list[Anchor]) -> bytes:
    """Concatenated PEM certificates, each after a comment line naming it (OpenSSL and
    update-ca-certificates skip text outside the BEGIN/END lines)."""
    parts = [f"# {_one_line(a.alias)}\n{pem('CERTIFICATE', a.der)}" for a in anchors]
    return "".join(parts).encode()


def pkcs7_certs_only(anchors: list[Anchor]) -> bytes:
    if not anchors:
        raise ContainerError("a PKCS#7 bundle needs at least one certificate")
    return certs_only([a.der for a in anchors])


def java_truststore(anchors: list[Anchor], password: str) -> bytes:
    """PKCS#12 with trusted-certificate entries, integrity-protected with `password` (a
    truststore holds nothing secret, but keytool asks for the store password to check the
    MAC). AES-256 / PBKDF2 / HMAC-SHA256, which JDK 11.0.12 and later read."""
    if not password:
        raise ContainerError("a Java truststore needs a store password (e.g. changeit)")
    entries = [
        pkcs12.PKCS12Certificate(x509.load_der_x509_certificate(a.der), _alias(a.alias).encode())
        for a in anchors
    ]
    return pkcs12.serialize_java_truststore(
        entries, serialization.BestAvailableEncryption(password.encode())
    )


def config_map(name: str, namespace: str, key: str, anchors: list[Anchor]) -> bytes:
    """A Kubernetes ConfigMap (YAML) with the PEM bundle under `key`, written by hand: a
    literal block scalar keeps each PEM line as it is."""
    for what, value in (("name", name), ("namespace", namespace)):
        if not _DNS_LABEL.fullmatch(value):
            raise ContainerError(f"the ConfigMap {what} must be a DNS label (RFC 1123)")
    if not _CONFIG_KEY.fullmatch(key):
        raise ContainerError("the ConfigMap key may hold letters, digits, '-', '_' and '.'")
    body = "".join(pem("CERTIFICATE", a.der) for a in anchors)
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        f"  name: {name}",
        f"  namespace: {namespace}",
        "data:",
        f"  {key}: |",
        *(f"    {line}" for line in body.splitlines()),
    ]
    if not anchors:
        lines[-1] = f'  {key}: ""'
    return ("\n".join(lines) + "\n").encode()


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _alias(text: str) -> str:
    # keytool lower-cases aliases; keep them printable and unique per caller.
    return _one_line(text).lower()[:200] or "ca"
