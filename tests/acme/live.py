"""A live ACME server for real clients: pytest-django's live server (this process) with
challenge checks sent to a real Celery worker (tests/worker.py) that connects to the client's
http-01 port on 127.0.0.1 (ANCHORAGE_ACME_RESOLVE maps acme.test there)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def tool(name: str) -> str:
    """A client program: certbot from the venv (PyPI), lego from Debian; missing is a failure."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    assert found, (
        f"{name} is not installed (certbot: pip install certbot; lego: apt-get install lego)"
    )
    return found


def run(
    command: list[str], timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
    env.update(extra)
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def openssl_verify(root: Path, chain_pem: Path, leaf_pem: Path) -> str:
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", str(root), "-untrusted", str(chain_pem), str(leaf_pem)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
