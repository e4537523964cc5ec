"""What the onboarding tests share: opening a PKCS#12 with the openssl CLI and verifying its
certificate against the chain it carries."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

PASSWORD = "correct horse battery"
_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?", re.S)


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True)


def open_pkcs12(p12: bytes, folder: Path, password: str = PASSWORD) -> list[str]:
    """Opens the file with `openssl pkcs12 -nodes` (a wrong password fails it), checks the key
    matches the leaf, and `openssl verify`s the leaf against the chain (the self-signed last
    certificate as the trust anchor). Returns the certificates as PEM, leaf first."""
    path = folder / "credential.p12"
    path.write_bytes(p12)
    wrong = openssl("pkcs12", "-in", str(path), "-passin", "pass:not the password!", "-nodes")
    assert wrong.returncode != 0, "a wrong password opened the PKCS#12"
    opened = openssl("pkcs12", "-in", str(path), "-passin", f"pass:{password}", "-nodes")
    assert opened.returncode == 0, opened.stderr
    assert "PRIVATE KEY" in opened.stdout
    (folder / "all.pem").write_text(opened.stdout)
    leaf_pem = openssl("pkcs12", "-in", str(path), "-passin", f"pass:{password}", "-clcerts",
                       "-nokeys").stdout  # fmt: skip
    chain_pem = openssl("pkcs12", "-in", str(path), "-passin", f"pass:{password}", "-cacerts",
                        "-nokeys").stdout  # fmt: skip
    leaf = _CERT.findall(leaf_pem)
    chain = _CERT.findall(chain_pem)
    assert len(leaf) == 1 and len(chain) >= 2, (leaf_pem, chain_pem)  # issuing CA and root
    key_pub = openssl("pkey", "-in", str(folder / "all.pem"), "-pubout").stdout
    (folder / "leaf.pem").write_text(leaf[0])
    cert_pub = openssl("x509", "-in", str(folder / "leaf.pem"), "-noout", "-pubkey").stdout
    assert key_pub == cert_pub
    roots = [c for c in chain if _self_signed(c, folder)]
    assert len(roots) == 1
    (folder / "root.pem").write_text(roots[0])
    (folder / "untrusted.pem").write_text("".join(c for c in chain if c != roots[0]))
    verified = openssl("verify", "-CAfile", str(folder / "root.pem"), "-untrusted",
                       str(folder / "untrusted.pem"), str(folder / "leaf.pem"))  # fmt: skip
    assert verified.returncode == 0 and ": OK" in verified.stdout, verified.stderr
    return leaf + chain


def _self_signed(pem: str, folder: Path) -> bool:
    (folder / "one.pem").write_text(pem)
    out = openssl("x509", "-in", str(folder / "one.pem"), "-noout", "-subject", "-issuer")
    lines = [line.split("=", 1)[1].strip() for line in out.stdout.splitlines()]
    return lines[0] == lines[1]
