"""Account key rollover (RFC 8555 §7.3.5): the outer JWS is signed by the account's key, the
inner by the new key, over {account, oldKey}."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from audit.services import record
from enrollment.acme.auth import Signed
from enrollment.acme.models import AcmeAccount
from enrollment.acme.problems import AcmeProblem, malformed, unauthorized
from pki.crypto import jose


def change_key(signed: Signed, outer_url: str, kid: str) -> AcmeAccount:
    account = signed.require_account()
    try:
        inner = jose.parse_flattened(signed.payload())
    except jose.JoseError as exc:
        raise malformed(f"the key-change payload is not a flattened JWS: {exc}") from None
    header = inner.protected
    new_jwk = header.get("jwk")
    if not isinstance(new_jwk, dict) or "kid" in header:
        raise malformed("the inner JWS must carry the new key as jwk")
    if "nonce" in header:
        raise malformed("the inner JWS must not carry a nonce")
    if header.get("url") != outer_url:
        raise malformed("the inner JWS url differs from the outer one")
    try:
        if not jose.verify(inner, new_jwk):
            raise malformed("the inner JWS signature does not verify")
        body = inner.payload_json()
        new_thumb = jose.thumbprint(new_jwk)
        old_thumb = jose.thumbprint(body.get("oldKey") or {})
    except jose.BadAlgorithm as exc:
        raise AcmeProblem("badSignatureAlgorithm", str(exc)) from None
    except jose.JoseError as exc:
        raise AcmeProblem("badPublicKey", str(exc)) from None
    if body.get("account") != kid:
        raise unauthorized("the inner payload names another account")
    if old_thumb != account.thumbprint:
        raise unauthorized("oldKey is not the account's current key")
    taken = AcmeAccount.objects.filter(domain=account.domain, thumbprint=new_thumb).first()
    if taken is not None:
        raise AcmeProblem("malformed", "the new key belongs to another account", 409)
    try:
        with transaction.atomic():
            account.jwk = jose.public_jwk(new_jwk)
            account.thumbprint = new_thumb
            account.save(update_fields=["jwk", "thumbprint"])
            record(
                "acme.account.key_changed",
                domain=account.domain,
                obj=account,
                details={"account": account.ident, "thumbprint": new_thumb},
            )
    except IntegrityError:
        raise AcmeProblem("malformed", "the new key belongs to another account", 409) from None
    return account
