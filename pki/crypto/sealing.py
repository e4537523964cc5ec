"""Secrets at rest, sealed with the key-encryption key (settings.ANCHORAGE_KEK).

Format: version byte 0x01 | 12-byte nonce | AES-256-GCM ciphertext and tag. The caller's
`purpose` is bound as associated data, so a sealed webhook secret cannot be replayed as,
say, a sealed CA key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_VERSION = b"\x01"


class SealError(ValueError):
    pass


@lru_cache(maxsize=4)
def _aead(kek: str) -> AESGCM:
    try:
        raw = base64.urlsafe_b64decode(kek.encode() + b"=" * (-len(kek) % 4))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        # A passphrase would be a weak key; ask for real key material instead.
        raise SealError("ANCHORAGE_KEK must be 32 random bytes, base64url-encoded")
    return AESGCM(raw)


def seal(plaintext: bytes, purpose: str) -> bytes:
    nonce = os.urandom(12)
    return (
        _VERSION + nonce + _aead(settings.ANCHORAGE_KEK).encrypt(nonce, plaintext, purpose.encode())
    )


def unseal(sealed: bytes, purpose: str) -> bytes:
    sealed = bytes(sealed)
    if len(sealed) < 1 + 12 + 16 or sealed[:1] != _VERSION:
        raise SealError("not a sealed secret")
    try:
        return _aead(settings.ANCHORAGE_KEK).decrypt(sealed[1:13], sealed[13:], purpose.encode())
    except InvalidTag:
        raise SealError("sealed secret does not open with this KEK and purpose") from None


def hmac_sha256(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    a_bytes = a.encode() if isinstance(a, str) else a
    b_bytes = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)
