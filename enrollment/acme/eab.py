"""External account binding (RFC 8555 §7.3.4): operators make key IDs with HMAC keys; a
newAccount carries a JWS, MACed with that key, over the account's public key."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit.services import record
from enrollment.acme.models import AcmeAccount, ExternalAccountKey
from enrollment.acme.problems import AcmeProblem, malformed, unauthorized
from pki.crypto import jose, sealing
from pki.models import Domain


@dataclass(frozen=True)
class NewKey:
    key: ExternalAccountKey
    hmac_key: str  # base64url; shown once, to the operator who made it


def _purpose(key_id: str) -> str:
    return f"acme-eab:{key_id}"


@transaction.atomic
def create_key(domain: Domain, *, actor: User | None = None, comment: str = "") -> NewKey:
    key_id = secrets.token_urlsafe(18)
    raw = secrets.token_bytes(32)
    key = ExternalAccountKey.objects.create(
        domain=domain,
        key_id=key_id,
        sealed_hmac_key=sealing.seal(raw, _purpose(key_id)),
        comment=comment,
        created_by=actor,
    )
    record(
        "acme.eab_key.created",
        actor=actor,
        domain=domain,
        obj=key,
        details={"key_id": key_id, "comment": comment},
    )
    return NewKey(key, jose.b64u_encode(raw))


@transaction.atomic
def revoke_keys(keys: list[ExternalAccountKey], *, actor: object = None, comment: str = "") -> int:
    """Revoked keys bind no new account; accounts already bound stay as they are."""
    user = actor if isinstance(actor, User) else None
    done = 0
    for key in keys:
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            record(
                "acme.eab_key.revoked",
                actor=user,
                domain=key.domain,
                obj=key,
                details={"key_id": key.key_id, "comment": comment},
            )
            done += 1
    return done


def verify(
    domain: Domain, binding: object, outer_url: str, account_jwk: dict[str, Any]
) -> ExternalAccountKey:
    """The binding's key row (locked, unbound), once its MAC and contents check out."""
    if not isinstance(binding, dict):
        raise malformed("externalAccountBinding must be a flattened JWS")
    try:
        inner = jose.parse_flattened(binding)
    except jose.JoseError as exc:
        raise malformed(f"externalAccountBinding: {exc}") from None
    header = inner.protected
    if inner.alg not in jose.MAC_ALGORITHMS:
        raise AcmeProblem(
            "badSignatureAlgorithm",
            "externalAccountBinding needs a MAC algorithm",
            extra={"algorithms": sorted(jose.MAC_ALGORITHMS)},
        )
    if "nonce" in header:
        raise malformed("externalAccountBinding must not carry a nonce")
    if header.get("url") != outer_url:
        raise unauthorized("externalAccountBinding url differs from the request's")
    key = (
        ExternalAccountKey.objects.select_for_update()
        .filter(domain=domain, key_id=str(header.get("kid", ""))[:64])
        .first()
    )
    if key is None or key.revoked_at is not None:
        raise unauthorized("unknown or revoked external account key")
    if key.account_id is not None:
        raise unauthorized("this external account key is already bound to an account")
    raw = sealing.unseal(bytes(key.sealed_hmac_key), _purpose(key.key_id))
    if not jose.verify_mac(inner, raw):
        raise unauthorized("externalAccountBinding MAC does not verify")
    try:
        bound = json.loads(inner.payload)
        same = jose.thumbprint(bound) == jose.thumbprint(account_jwk)
    except (ValueError, jose.JoseError, AttributeError):
        same = False
    if not same:
        raise unauthorized("externalAccountBinding does not sign the account key")
    return key


def bind(key: ExternalAccountKey, account: AcmeAccount) -> None:
    key.account = account
    key.save(update_fields=["account"])
    account.eab_key_id = key.key_id
    account.save(update_fields=["eab_key_id"])
