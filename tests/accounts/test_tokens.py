"""API tokens: stored only as SHA-256 digests; revoked, expired and inactive → 401."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken
from accounts.roles import Role
from accounts.services import create_token, revoke_token, token_digest, user_for_token
from pki.models import Domain
from tests.conftest import MakeUser

pytestmark = pytest.mark.django_db


def me(key: str) -> Any:
    client = Client(raise_request_exception=False, headers={"Authorization": f"Token {key}"})
    return client.get("/api/v1/me")


def all_stored_values() -> list[str]:
    """Every value in every table of the database, as text."""
    values: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        values.append(bytes(value).decode("latin-1"))
                    elif value is not None:
                        values.append(str(value))
    return values


def test_tokens_are_stored_as_sha256_digests_only(make_user: MakeUser, domain: Domain) -> None:
    user = make_user("tina", Role.RA_OFFICER, domain)
    keys = [create_token(user, f"t{i}")[1] for i in range(3)]

    for key in keys:
        token = ApiToken.objects.get(digest=hashlib.sha256(key.encode()).hexdigest())
        assert token.digest == token_digest(key)
        assert len(token.digest) == 64
        assert key.startswith(token.prefix) and len(token.prefix) < len(key) // 2

    rows = list(ApiToken.objects.values())
    assert len(rows) == 3
    token_values = [str(v) for row in rows for v in row.values()]
    everything = all_stored_values()
    for key in keys:
        secret_part = key[12:]  # what the prefix column does not show
        for value in token_values:
            assert key not in value and secret_part not in value
        for value in everything:
            assert secret_part not in value, "a token's secret is stored somewhere in clear"
        assert me(key).status_code == 200


def test_a_valid_token_authenticates_and_notes_its_use(make_user: MakeUser, domain: Domain) -> None:
    user = make_user("tina", Role.RA_OFFICER, domain)
    token, key = create_token(user, "cli")
    assert token.last_used_at is None

    response = me(key)

    assert response.status_code == 200
    assert response.json()["username"] == "tina"
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert user_for_token(key) == user


@pytest.mark.parametrize(
    "header",
    ["Token anc_notatoken", "Token ", "Token a b", "token", "Bearer anc_x", "Token \u00e9t\u00e9"],
)
def test_unknown_or_malformed_tokens_are_401(header: str) -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_revoked_token_is_401(make_user: MakeUser, domain: Domain) -> None:
    user = make_user("tina", Role.RA_OFFICER, domain)
    token, key = create_token(user, "cli")
    assert me(key).status_code == 200

    revoke_token(token)

    response = me(key)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert user_for_token(key) is None


def test_expired_token_is_401(make_user: MakeUser, domain: Domain) -> None:
    user = make_user("tina", Role.RA_OFFICER, domain)
    now = timezone.now()
    _, expired = create_token(user, "old", expires_at=now - timedelta(seconds=1))
    _, current = create_token(user, "new", expires_at=now + timedelta(days=1))

    assert me(expired).status_code == 401
    assert me(current).status_code == 200


def test_inactive_users_token_is_401(make_user: MakeUser, domain: Domain) -> None:
    user = make_user("tina", Role.RA_OFFICER, domain)
    _, key = create_token(user, "cli")
    assert me(key).status_code == 200

    user.is_active = False
    user.save(update_fields=["is_active"])

    response = me(key)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
