"""API tokens: minted once in plaintext, stored as digests, looked up by digest."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiToken
from audit.services import record

TOKEN_PREFIX = "anc_"  # noqa: S105 (a label, not a secret)
# Bump last_used_at at most this often: a write per request would cost more than the lookup.
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def create_token(
    user: User,
    name: str,
    *,
    key: str | None = None,
    expires_at: datetime | None = None,
    actor: User | AnonymousUser | None = None,
) -> tuple[ApiToken, str]:
    """Mint a token for `user`; return it and its key, the only time the key is seen."""
    key = key or TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, digest=token_digest(key), prefix=key[:12], expires_at=expires_at
    )
    record(
        "accounts.token.created",
        actor=actor,
        obj=token,
        details={"user": user.username, "name": name, "prefix": token.prefix},
    )
    return token, key


def user_for_token(key: str) -> User | None:
    """The active user behind `key`, or None. The digest is the index, so the database
    compares digests, never the secret; a timing side channel on it reveals nothing usable."""
    now = timezone.now()
    # The digest is unique, so no ORDER BY (`.first()` would sort by created_at every request).
    found = list(
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(key), revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by()[:1]
    )
    token = found[0] if found else None
    if token is None or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@transaction.atomic
def revoke_token(token: ApiToken, *, actor: User | AnonymousUser | None = None) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record("accounts.token.revoked", actor=actor, obj=token, details={"prefix": token.prefix})
