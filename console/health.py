"""What /healthz checks: the database answers and the broker accepts connections."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import connection


def database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def broker() -> str | None:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        return None if folder.is_dir() else f"broker folder {folder} is missing"
    if url.startswith("memory://"):
        return None
    from config.celery import app

    try:
        # The URL read above, not the app's own copy of it: one answer to "which broker".
        with app.connection_for_write(url) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
