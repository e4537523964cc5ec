"""Running manage.py and Python in a child process with an environment of our choosing."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Everything settings read that the developer's or CI's shell may carry.
SCRUBBED = (
    "ANCHORAGE_ENV",
    "ANCHORAGE_DATA_DIR",
    "ANCHORAGE_KEK",
    "ANCHORAGE_LOG_FORMAT",
    "ANCHORAGE_LOG_LEVEL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "DJANGO_SETTINGS_MODULE",
    # tests/browser/conftest.py sets this for Playwright; deployment checks refuse it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)

Run = Callable[..., subprocess.CompletedProcess[str]]


def new_kek() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def production_env(data_dir: Path) -> dict[str, str]:
    return {
        "ANCHORAGE_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ANCHORAGE_KEK": new_kek(),
        "ALLOWED_HOSTS": "pki.example.test",
        "DATABASE_URL": f"sqlite:///{data_dir / 'x.sqlite3'}",
        "ANCHORAGE_DATA_DIR": str(data_dir),
    }


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """run(args..., env={...}) → the finished child: `python <args>` in the repository, with
    a scrubbed environment plus `env`, its data directory under tmp_path by default."""

    def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        child_env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        child_env["ANCHORAGE_DATA_DIR"] = str(tmp_path / "data")
        child_env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'data' / 'db.sqlite3'}"
        child_env["DJANGO_SETTINGS_MODULE"] = "config.settings"
        child_env.update(env or {})
        return subprocess.run(
            [sys.executable, *args],
            cwd=REPO,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return _run


SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "SECRET_KEY": settings.SECRET_KEY,
    "ANCHORAGE_KEK": settings.ANCHORAGE_KEK,
    "DEBUG": settings.DEBUG,
    "PRODUCTION": settings.PRODUCTION,
    "DATA_DIR": str(settings.DATA_DIR),
}))
"""
