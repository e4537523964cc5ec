"""Shared fixtures: a domain or two, users holding each role, API clients with tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from accounts.roles import Role, grant_role
from accounts.services import create_token
from config.celery import app as celery_app
from pki.models import Domain

# Tasks sent by code under test go nowhere unless a test starts a worker of its own
# (tests/audit/test_worker.py talks to a real broker with an explicit connection).
celery_app.conf.update(broker_url="memory://", broker_transport_options={})


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: pytest.FixtureRequest) -> None:
    # Human passwords use PBKDF2 in production; tests only need them to round-trip.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture
def domain(db: None) -> Domain:
    return Domain.objects.create(slug="alpha", name="Alpha", enabled_protocols=["api", "est"])


@pytest.fixture
def other_domain(db: None) -> Domain:
    return Domain.objects.create(slug="beta", name="Beta")


MakeUser = Callable[..., User]


@pytest.fixture
def make_user(db: None) -> MakeUser:
    """make_user("alice", Role.APPROVER, domain) → a user holding that role there."""

    def make(
        username: str, role: Role | None = None, domain: Domain | None = None, **kw: object
    ) -> User:
        user = User.objects.create_user(username=username, password="pw-" + username, **kw)  # type: ignore[arg-type]
        if role is not None and domain is not None:
            grant_role(user, role, domain)
        return user

    return make


@pytest.fixture
def api_client_for() -> Callable[[User], APIClient]:
    def client_for(user: User) -> APIClient:
        _, key = create_token(user, "test")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return client_for
