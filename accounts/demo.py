"""Demo users of every role, with credentials derived from SECRET_KEY so that running the
bootstrap again changes nothing and prints the same logins."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser

from accounts.models import ApiToken
from accounts.roles import Role, grant_role
from accounts.services import TOKEN_PREFIX, create_token, token_digest
from pki.models import Domain


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    token: str

    def as_dict(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password, "token": self.token}


def derived_secret(label: str, length: int = 20) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), label.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:length]


# (username, role in the demo domain, Django superuser)
DEMO_USERS: list[tuple[str, Role, bool]] = [
    ("admin", Role.ADMIN, True),
    ("operator", Role.OPERATOR, False),
    ("ra_officer", Role.RA_OFFICER, False),
    ("approver", Role.APPROVER, False),
    ("approver2", Role.APPROVER, False),
    ("auditor", Role.AUDITOR, False),
    ("custodian1", Role.CUSTODIAN, False),
    ("custodian2", Role.CUSTODIAN, False),
    ("custodian3", Role.CUSTODIAN, False),
]


def ensure_user(username: str, role: Role, superuser: bool, domain: Domain) -> DemoLogin:
    user_model = get_user_model()
    password = "demo-" + derived_secret(f"demo-password:{username}", 16)
    user, created = user_model.objects.get_or_create(username=username)
    assert isinstance(user, AbstractUser)
    if created or not user.check_password(password):
        user.set_password(password)
    user.is_superuser = superuser
    user.is_staff = superuser
    user.is_active = True
    user.email = user.email or f"{username}@demo.test"
    user.save()
    grant_role(user, role, domain)
    token = TOKEN_PREFIX + derived_secret(f"demo-token:{username}", 40)
    if not ApiToken.objects.filter(digest=token_digest(token), revoked_at__isnull=True).exists():
        ApiToken.objects.filter(digest=token_digest(token)).delete()
        create_token(user, "demo", key=token)
    return DemoLogin(username, password, token)
