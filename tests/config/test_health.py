"""/healthz: 200 when the database and the broker answer, 503 JSON when one does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

pytestmark = pytest.mark.django_db


def healthz() -> tuple[int, dict[str, object], str]:
    response = Client(raise_request_exception=False).get("/healthz")
    return response.status_code, response.json(), response["Content-Type"]


def test_healthz_is_ok_with_database_and_broker() -> None:
    status, body, content_type = healthz()

    assert status == 200, body
    assert content_type.startswith("application/json")
    assert body == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_healthz_needs_no_login_and_is_not_cached() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    assert Client().post("/healthz").status_code == 405


def test_healthz_is_503_when_the_broker_is_unreachable(settings: Settings) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}

    status, body, content_type = healthz()

    assert status == 503
    assert content_type.startswith("application/json")
    assert body["status"] == "unavailable"
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks["database"] == "ok"
    assert checks["broker"] != "ok"


def test_healthz_is_503_when_the_broker_folder_is_gone(settings: Settings, tmp_path: Path) -> None:
    settings.CELERY_BROKER_URL = "filesystem://localhost/"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path / "missing"),
        "data_folder_out": str(tmp_path / "missing"),
    }

    status, body, _ = healthz()

    assert status == 503
    assert "missing" in str(body["checks"])
