"""Security headers on console pages and API answers; CSRF on forms and session API calls."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.roles import Role
from pki.models import Domain
from tests.conftest import MakeUser

pytestmark = pytest.mark.django_db


def assert_security_headers(response: object, path: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp, path
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
    assert "frame-ancestors 'none'" in csp, path
    assert headers.get("X-Frame-Options") == "DENY", path
    assert headers.get("X-Content-Type-Options") == "nosniff", path
    assert headers.get("Referrer-Policy") == "same-origin", path
    assert headers.get("Cross-Origin-Opener-Policy") == "same-origin", path


def test_console_pages_carry_security_headers(make_user: MakeUser, domain: Domain) -> None:
    anonymous = Client()
    response = anonymous.get("/login/")
    assert response.status_code == 200
    assert_security_headers(response, "/login/")
    assert "no-store" in response["Cache-Control"]

    client = Client()
    client.force_login(make_user("audrey", Role.AUDITOR, domain))
    for path in ("/", "/approvals/", "/audit/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_security_headers(response, path)

    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    assert_security_headers(missing, "/no-such-page/")


def test_api_answers_carry_the_headers_too() -> None:
    response = Client().get("/api/v1/me")
    assert response.status_code == 401
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]


def test_login_post_without_csrf_token_is_403(make_user: MakeUser, domain: Domain) -> None:
    make_user("rachel", Role.RA_OFFICER, domain)
    client = Client(enforce_csrf_checks=True)

    response = client.post("/login/", {"username": "rachel", "password": "pw-rachel"})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_login_post_with_csrf_token_logs_in(make_user: MakeUser, domain: Domain) -> None:
    make_user("rachel", Role.RA_OFFICER, domain)
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    token = client.cookies["csrftoken"].value

    response = client.post(
        "/login/",
        {"username": "rachel", "password": "pw-rachel", "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.cookies["sessionid"]["httponly"]
    assert client.cookies["sessionid"]["samesite"] == "Lax"


def test_logout_needs_post_with_csrf(make_user: MakeUser, domain: Domain) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("rachel", Role.RA_OFFICER, domain))
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 403
    assert client.get("/").status_code == 200  # still logged in


def test_session_api_writes_need_csrf(make_user: MakeUser, domain: Domain) -> None:
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(make_user("rachel", Role.APPROVER, domain))
    assert client.get("/api/v1/me").status_code == 200

    response = client.post("/api/v1/approvals/1/approve", {}, content_type="application/json")

    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert "CSRF" in response.json()["detail"]
