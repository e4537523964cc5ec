"""A list version in the formats consumers load: PEM bundle, PKCS#7 certs-only, Java
truststore (PKCS#12 of trusted-certificate entries), Kubernetes ConfigMap. Built by
pki.crypto.truststore_formats; this module picks the CAs and names the file."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import ValidationError

from pki.crypto.pkcs import ContainerError
from pki.crypto.truststore_formats import (
    Anchor,
    config_map,
    java_truststore,
    pem_bundle,
    pkcs7_certs_only,
)
from truststores.estate.catalog import version_cas
from truststores.estate.models import TrustListVersion


class Format(StrEnum):
    PEM = "pem"
    PKCS7 = "pkcs7"
    JKS = "jks"  # PKCS#12 Java truststore (Java 9+ reads PKCS#12 as its default type)
    CONFIGMAP = "configmap"


CONTENT_TYPES = {
    Format.PEM: "application/x-pem-file",
    Format.PKCS7: "application/pkcs7-mime",
    Format.JKS: "application/x-pkcs12",
    Format.CONFIGMAP: "application/yaml",
}
SUFFIXES = {Format.PEM: "pem", Format.PKCS7: "p7b", Format.JKS: "p12", Format.CONFIGMAP: "yaml"}
# The Java truststore's password only keys its integrity MAC: the file holds public CA
# certificates, nothing secret. keytool still asks for one, so the JDK's well-known default
# (its cacerts' password) is used unless the caller names another with ?password=.
DEFAULT_STORE_PASSWORD = "changeit"  # noqa: S105 (the JDK's well-known default; no secret)
# keytool refuses store passwords under 6 characters; printable ASCII because PKCS#12
# password encodings of other characters differ between the JDK and OpenSSL.
PASSWORD_LENGTHS = (6, 128)


def check_password(password: str) -> str:
    low, high = PASSWORD_LENGTHS
    if not low <= len(password) <= high or not (password.isascii() and password.isprintable()):
        wanted = f"{low} to {high} printable ASCII characters"
        raise ValidationError({"password": f"{wanted} (default {DEFAULT_STORE_PASSWORD})"})
    return password


def configmap_name(slug: str) -> str:
    """The ConfigMap's default name from a list's slug: a DNS label (RFC 1123), which a
    slug (letters, digits, '-', '_', up to 80) is not always."""
    name = slug.lower().replace("_", "-")[:63].strip("-")
    return name or "trust-list"


@dataclass(frozen=True)
class Export:
    content: bytes
    content_type: str
    filename: str


def export(
    version: TrustListVersion,
    fmt: str,
    *,
    password: str = DEFAULT_STORE_PASSWORD,
    namespace: str = "default",
    name: str | None = None,
) -> Export:
    try:
        kind = Format(fmt)
    except ValueError:
        raise ValidationError({"format": f"one of {', '.join(f.value for f in Format)}"}) from None
    trust_list = version.trust_list
    anchors = [
        Anchor(bytes(ca.der), f"{ca.subject} {ca.fingerprint[:8]}") for ca in version_cas(version)
    ]
    base = f"{trust_list.slug}-v{version.number}"
    try:
        if kind == Format.PEM:
            content = pem_bundle(anchors)
        elif kind == Format.PKCS7:
            content = pkcs7_certs_only(anchors)
        elif kind == Format.JKS:
            content = java_truststore(anchors, check_password(password))
        else:
            content = config_map(
                name or configmap_name(trust_list.slug),
                namespace,
                "ca-bundle.pem",
                anchors,
            )
    except ContainerError as exc:
        raise ValidationError({"format": str(exc)}) from None
    return Export(content, CONTENT_TYPES[kind], f"{base}.{SUFFIXES[kind]}")
