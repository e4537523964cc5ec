"""Reading settings from the environment, and the secrets kept under the data directory."""

from __future__ import annotations

import base64
import os
import secrets
import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def data_dir() -> Path:
    path = Path(env_str("ANCHORAGE_DATA_DIR", str(BASE_DIR / "var")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def persistent_secret(name: str, env_name: str, *, production: bool, nbytes: int = 32) -> str:
    """The secret from the environment, else one generated once into the data directory.

    In production the environment must carry it: a generated file next to the database
    would defeat the point of keeping the key apart from what it protects.
    """
    value = os.environ.get(env_name)
    if value:
        return value
    if production:
        raise ImproperlyConfigured(f"{env_name} must be set when ANCHORAGE_ENV=production")
    path = data_dir() / name
    if not path.exists():
        token = base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).decode()
        # O_EXCL: two processes starting together agree on one secret.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(token)
    for _ in range(100):  # another process may be between create and write
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.01)
    raise ImproperlyConfigured(f"{path} is empty")
