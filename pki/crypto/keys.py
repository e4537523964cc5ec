"""Key algorithms and the signer interface every key backend implements.

A backend signs bytes; it never hands out a private key object. The certificate, CRL and
OCSP builders (pki.crypto.x509build) turn a to-be-signed structure into bytes, ask the
signer for a signature and assemble the result, so an HSM or KMS key signs exactly what a
software key would.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes


class KeyAlgorithm(StrEnum):
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"
    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    ED25519 = "ed25519"

    @property
    def family(self) -> str:
        return self.value.split("-")[0]

    @property
    def rsa_bits(self) -> int:
        return int(self.value.split("-")[1]) if self.family == "rsa" else 0

    @property
    def hash_name(self) -> str | None:
        """The digest signed with this key: SHA-384 for P-384 (matching strength), none for
        Ed25519 (RFC 8410 §6), SHA-256 otherwise."""
        if self is KeyAlgorithm.ED25519:
            return None
        return "sha384" if self is KeyAlgorithm.EC_P384 else "sha256"


class KeyBackendError(Exception):
    """A key cannot be made, found, used or exported as asked."""


class ExportRefused(KeyBackendError):
    pass


class Signer(Protocol):
    """One private key, wherever it lives."""

    algorithm: KeyAlgorithm

    def public_key(self) -> PublicKeyTypes: ...

    def sign(self, data: bytes) -> bytes:
        """The signature over `data` as X.509 carries it: PKCS#1 v1.5 for RSA, the DER
        Ecdsa-Sig-Value for ECDSA (RFC 3279 §2.2.3), the raw 64 bytes for Ed25519."""
        ...


@dataclass(frozen=True)
class GeneratedKey:
    reference: str  # what the backend needs to find the key again; never key material in clear
    public_key_pem: str


def algorithm_of(public_key: PublicKeyTypes) -> KeyAlgorithm:
    if isinstance(public_key, rsa.RSAPublicKey):
        try:
            return KeyAlgorithm(f"rsa-{public_key.key_size}")
        except ValueError:
            raise KeyBackendError(
                f"RSA-{public_key.key_size} is not a supported CA key size"
            ) from None
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curves = {"secp256r1": KeyAlgorithm.EC_P256, "secp384r1": KeyAlgorithm.EC_P384}
        if public_key.curve.name not in curves:
            raise KeyBackendError(f"curve {public_key.curve.name} is not supported for CA keys")
        return curves[public_key.curve.name]
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return KeyAlgorithm.ED25519
    raise KeyBackendError(f"unsupported key type {type(public_key).__name__}")


def hash_for(algorithm: KeyAlgorithm) -> hashes.HashAlgorithm | None:
    name = algorithm.hash_name
    return {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), None: None}[name]


def verify(public_key: PublicKeyTypes, signature: bytes, data: bytes) -> bool:
    """True when `signature` (X.509 encoding, as Signer.sign returns it) is valid."""
    algorithm = algorithm_of(public_key)
    digest = hash_for(algorithm)
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and digest is not None:
            public_key.verify(signature, data, padding.PKCS1v15(), digest)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and digest is not None:
            public_key.verify(signature, data, ec.ECDSA(digest))
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def public_pem(public_key: PublicKeyTypes) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_pem(pem: str | bytes) -> PublicKeyTypes:
    data = pem.encode() if isinstance(pem, str) else pem
    return serialization.load_pem_public_key(data)


def public_der(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_der_of_private(pkcs8_der: bytes) -> bytes:
    """The SubjectPublicKeyInfo of a private key, to match it with a certificate."""
    try:
        key = serialization.load_der_private_key(pkcs8_der, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyBackendError(f"not a readable private key: {exc}") from None
    return public_der(key.public_key())
