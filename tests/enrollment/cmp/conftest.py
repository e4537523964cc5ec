"""CMP fixtures: domain alpha with a local PKI, CMP on, a shared secret, the CA certificates
as PEM files, and the real `openssl cmp` client against a live server."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from enrollment.cmp import services
from pki.crypto import certs
from pki.models import CertificateAuthority, Domain


@dataclass(frozen=True)
class Result:
    returncode: int
    output: str  # stdout and stderr


@dataclass
class Cmp:
    domain: Domain
    root: CertificateAuthority
    issuing: CertificateAuthority
    reference: str
    secret: str
    dir: Path
    url: str  # host:port
    path: str

    def key(self, name: str) -> Path:
        out = self.dir / f"{name}.key"
        subprocess.run(
            [
                "openssl",
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                str(out),
            ],
            check=True,
            capture_output=True,
        )
        return out

    def run(self, *args: str | Path) -> Result:
        """openssl cmp against the live server, its stdout and stderr in `.output`; errors
        answered unprotected are accepted (-unprotected_errors) so their failInfo shows."""
        words = [str(a) for a in args]
        if "-certout" not in words and {"ir", "cr", "kur", "p10cr"} & set(words):
            words += ["-certout", str(self.dir / "unused.pem")]
        done = subprocess.run(
            [
                "openssl",
                "cmp",
                "-server",
                self.url,
                "-path",
                self.path,
                "-unprotected_errors",
                *words,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
        )
        return Result(done.returncode, done.stdout)

    def mac(self, reference: str | None = None, secret: str | None = None) -> list[str]:
        return [
            "-ref",
            reference or self.reference,
            "-secret",
            f"pass:{secret or self.secret}",
            "-mac",
            "hmacWithSHA256",
        ]

    @property
    def root_pem(self) -> Path:
        return self.dir / "root.pem"

    @property
    def issuing_pem(self) -> Path:
        return self.dir / "issuing.pem"


@pytest.fixture
def cmp(live_server: Any, domain: Domain, est_pki: Any, tmp_path: Path) -> Cmp:
    domain.enabled_protocols = ["api", "est", "cmp"]
    domain.save(update_fields=["enabled_protocols"])
    root, issuing = est_pki
    (tmp_path / "root.pem").write_text(certs.der_to_pem(bytes(root.certificate)))
    (tmp_path / "issuing.pem").write_text(certs.der_to_pem(bytes(issuing.certificate)))
    _, secret = services.create_secret(domain, None, reference="dev-ref")
    services.forget()
    host = live_server.url.removeprefix("http://")
    return Cmp(
        domain, root, issuing, "dev-ref", secret, tmp_path, host, f".well-known/cmp/p/{domain.slug}"
    )


@pytest.fixture
def enrolled(cmp: Cmp) -> Callable[..., tuple[Path, Path]]:
    """ir with the shared secret: (certificate, key) files."""

    def make(name: str = "d1", *extra: str) -> tuple[Path, Path]:
        key = cmp.key(name)
        out = cmp.dir / f"{name}.pem"
        done = cmp.run(
            "-cmd",
            "ir",
            *cmp.mac(),
            "-newkey",
            key,
            "-subject",
            f"/CN={name}.alpha.test",
            "-sans",
            f"{name}.alpha.test",
            "-trusted",
            cmp.root_pem,
            "-certout",
            out,
            *extra,
        )
        assert done.returncode == 0, done.output
        return out, key

    return make
