"""The person behind a console request."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest


def request_user(request: HttpRequest) -> User:
    """The logged-in user of a view behind login_required (which let no one else in)."""
    user = request.user
    assert isinstance(user, User)
    return user
