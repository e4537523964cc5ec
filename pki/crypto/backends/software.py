"""Keys in software, sealed with the KEK.

The key reference is the sealed PKCS#8 (AES-256-GCM under ANCHORAGE_KEK, see
pki.crypto.sealing) in base64: the database holds only ciphertext, and a copy of the
database without the KEK holds no usable key. Unsealed keys live in process memory only.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from pki.crypto.keys import (
    ExportRefused,
    GeneratedKey,
    KeyAlgorithm,
    KeyBackendError,
    algorithm_of,
    hash_for,
    public_pem,
)
from pki.crypto.sealing import SealError, seal, unseal

_PURPOSE = "pki.ca-key"
_PREFIX = "sealed:"


def generate_private_key(algorithm: KeyAlgorithm) -> PrivateKeyTypes:
    if algorithm.family == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=algorithm.rsa_bits)
    if algorithm is KeyAlgorithm.EC_P256:
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm is KeyAlgorithm.EC_P384:
        return ec.generate_private_key(ec.SECP384R1())
    return ed25519.Ed25519PrivateKey.generate()


class SoftwareSigner:
    def __init__(self, key: PrivateKeyTypes) -> None:
        if not isinstance(
            key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        ):
            raise KeyBackendError(f"unsupported private key type {type(key).__name__}")
        self._key = key
        self.algorithm = algorithm_of(key.public_key())

    def public_key(self) -> PublicKeyTypes:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        digest = hash_for(self.algorithm)
        key = self._key
        if isinstance(key, rsa.RSAPrivateKey) and digest is not None:
            return key.sign(data, padding.PKCS1v15(), digest)
        if isinstance(key, ec.EllipticCurvePrivateKey) and digest is not None:
            return key.sign(data, ec.ECDSA(digest))
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        raise KeyBackendError("key and digest do not match")

    @property
    def private_key(self) -> PrivateKeyTypes:
        """In-process key: the builders sign with it directly, skipping a second pass."""
        return self._key


def _pkcs8(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class SoftwareBackend:
    exportable = True

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def algorithms(self) -> frozenset[KeyAlgorithm]:
        return frozenset(KeyAlgorithm)

    def generate(self, algorithm: KeyAlgorithm, label: str) -> GeneratedKey:
        return self._store(generate_private_key(algorithm))

    def import_private_key(self, pkcs8_der: bytes, label: str) -> GeneratedKey:
        try:
            key = serialization.load_der_private_key(pkcs8_der, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyBackendError(f"not a usable private key: {exc}") from None
        SoftwareSigner(key)  # refuses unsupported types
        return self._store(key)

    def signer(self, reference: str) -> SoftwareSigner:
        return SoftwareSigner(self._open(reference))

    def export_private_key(self, reference: str) -> bytes:
        return _pkcs8(self._open(reference))

    def _store(self, key: PrivateKeyTypes) -> GeneratedKey:
        sealed = seal(_pkcs8(key), _PURPOSE)
        return GeneratedKey(
            reference=_PREFIX + base64.b64encode(sealed).decode(),
            public_key_pem=public_pem(key.public_key()),
        )

    def _open(self, reference: str) -> PrivateKeyTypes:
        if not reference.startswith(_PREFIX):
            raise KeyBackendError("not a software key reference")
        try:
            der = unseal(base64.b64decode(reference[len(_PREFIX) :]), _PURPOSE)
        except (SealError, ValueError) as exc:
            raise KeyBackendError(f"the CA key does not open: {exc}") from None
        return serialization.load_der_private_key(der, password=None)


__all__ = ["ExportRefused", "SoftwareBackend", "SoftwareSigner", "generate_private_key"]
