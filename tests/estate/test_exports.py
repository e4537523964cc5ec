"""A list version as consumers load it, read back by the real tools: keytool (Debian's
JDK) lists each CA as a trustedCertEntry, openssl reads the PEM and PKCS#7 bundles."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ValidationError

from tests.estate.helpers import Estate, current
from truststores.estate import exports

pytestmark = pytest.mark.django_db


def colon_hex(fp: str) -> str:
    return ":".join(fp[i : i + 2] for i in range(0, 64, 2)).upper()


def run(*args: str, data: bytes | None = None) -> str:
    done = subprocess.run(args, input=data, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def test_keytool_lists_the_java_truststore(estate: Estate, tmp_path: Path) -> None:
    result = exports.export(current(estate.public), "jks", password="s3cret-store")
    path = tmp_path / "public.p12"
    path.write_bytes(result.content)
    out = run(
        "keytool",
        "-list",
        "-storetype",
        "PKCS12",
        "-keystore",
        str(path),
        "-storepass",
        "s3cret-store",
    )
    assert "Your keystore contains 3 entries" in out
    assert out.count("trustedCertEntry") == 3
    for cn in ("Public A", "Public B", "Old Root"):
        assert colon_hex(estate.fp(cn)) in out
    wrong = subprocess.run(
        ["keytool", "-list", "-storetype", "PKCS12", "-keystore", str(path), "-storepass", "x"],
        capture_output=True,
        check=False,
    )
    assert wrong.returncode != 0


def test_openssl_reads_the_pem_and_pkcs7_exports(estate: Estate, tmp_path: Path) -> None:
    pem = exports.export(current(estate.internal), "pem")
    assert pem.content_type == "application/x-pem-file" and pem.filename == "internal-v2.pem"
    path = tmp_path / "bundle.pem"
    path.write_bytes(pem.content)
    listed = run("openssl", "storeutl", "-certs", "-noout", "-text", str(path))
    assert listed.count("Certificate:") == 2
    p7 = run("openssl", "crl2pkcs7", "-nocrl", "-certfile", str(path), "-outform", "PEM")
    assert (
        run("openssl", "pkcs7", "-print_certs", "-noout", data=p7.encode()).count("subject=") == 2
    )
    der = exports.export(current(estate.internal), "pkcs7")
    printed = run("openssl", "pkcs7", "-inform", "DER", "-print_certs", data=der.content)
    assert "CN = Corp Root" in printed and "CN = Corp 2" in printed
    first = printed[printed.index("-----BEGIN") :].encode()
    fingerprint = run("openssl", "x509", "-noout", "-fingerprint", "-sha256", data=first)
    assert (
        colon_hex(estate.fp("Corp Root")) in fingerprint
        or colon_hex(estate.fp("Corp 2")) in fingerprint
    )


def test_configmap_holds_the_bundle(estate: Estate) -> None:
    result = exports.export(current(estate.public), "configmap", namespace="payments")
    doc = yaml.safe_load(result.content)
    assert doc["kind"] == "ConfigMap" and doc["metadata"] == {
        "name": "public",
        "namespace": "payments",
    }
    assert doc["data"]["ca-bundle.pem"].count("BEGIN CERTIFICATE") == 3
    with pytest.raises(ValidationError):
        exports.export(current(estate.public), "configmap", namespace="Bad Name")
    with pytest.raises(ValidationError):
        exports.export(current(estate.public), "zip")
