"""What the console's page tests share."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client


def logged_in(user: User) -> Client:
    """A test client with `user`'s session."""
    client = Client()
    client.force_login(user)
    return client
