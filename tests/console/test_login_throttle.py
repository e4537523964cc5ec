"""Password guessing at the console login is cut off after a few failures."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def attempt(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def test_lockout_after_repeated_failures_even_with_the_right_password(make_user, settings):
    settings.ANCHORAGE_LOGIN_MAX_FAILURES = 3
    make_user("alice")
    client = Client()
    for _ in range(3):
        assert attempt(client, "alice", "wrong").status_code == 200
    refused = attempt(client, "alice", "pw-alice")
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_other_accounts_are_not_locked_out(make_user, settings):
    settings.ANCHORAGE_LOGIN_MAX_FAILURES = 2
    make_user("alice")
    make_user("bob")
    client = Client()
    for _ in range(2):
        attempt(client, "alice", "wrong")
    assert attempt(client, "bob", "pw-bob").status_code == 302


def test_a_successful_login_clears_the_count(make_user, settings):
    settings.ANCHORAGE_LOGIN_MAX_FAILURES = 2
    make_user("alice")
    attempt(Client(), "alice", "wrong")
    assert attempt(Client(), "alice", "pw-alice").status_code == 302
    attempt(Client(), "alice", "wrong")
    assert attempt(Client(), "alice", "pw-alice").status_code == 302
