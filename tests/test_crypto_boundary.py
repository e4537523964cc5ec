"""DESIGN.md: only pki/crypto/ imports cryptography, OpenSSL, pkcs11 or an AWS client."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["accounts", "approvals", "audit", "config", "console", "enrollment", "pki", "truststores"]
GUARDED = ("cryptography", "OpenSSL", "pkcs11", "boto3", "botocore")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_crypto_boundary_imports_crypto_libraries():
    offenders = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if (ROOT / "pki" / "crypto") in path.parents:
                continue
            bad = [n for n in _imports(path) if n.split(".")[0] in GUARDED]
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {', '.join(sorted(bad))}")
    assert not offenders, "crypto imports outside pki/crypto/:\n" + "\n".join(offenders)


def test_the_check_would_see_an_offender(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    from cryptography import x509\n")
    assert "cryptography" in _imports(sample)
