"""CA keys in AWS KMS: asymmetric SIGN_VERIFY keys that never leave the service.

The key reference is ``kms:<key ARN>``. We hash locally and send the digest
(MessageType=DIGEST), so a to-be-signed structure of any size can be signed; KMS returns
PKCS#1 v1.5 signatures for RSA and DER Ecdsa-Sig-Value for ECDSA, which is what X.509 carries.
Every signature is checked against the cached public key before it is handed back.

``message_type="RAW"`` sends the data itself (KMS hashes it; at most 4096 bytes). It exists
for emulators that ignore MessageType=DIGEST (moto 5.x does, and signs sha256(digest)).
Remaining OPTIONS are botocore ``Config`` arguments (connect_timeout, read_timeout, retries...).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from pki.crypto.aws import AwsClient
from pki.crypto.keys import (
    ExportRefused,
    GeneratedKey,
    KeyAlgorithm,
    KeyBackendError,
    algorithm_of,
    public_pem,
    verify,
)

_PREFIX = "kms:"
_RAW_LIMIT = 4096  # bytes KMS accepts with MessageType=RAW
_KEY_SPEC = {
    KeyAlgorithm.RSA_2048: "RSA_2048",
    KeyAlgorithm.RSA_3072: "RSA_3072",
    KeyAlgorithm.RSA_4096: "RSA_4096",
    KeyAlgorithm.EC_P256: "ECC_NIST_P256",
    KeyAlgorithm.EC_P384: "ECC_NIST_P384",
}
_SIGNING_ALGORITHM = {
    KeyAlgorithm.RSA_2048: "RSASSA_PKCS1_V1_5_SHA_256",
    KeyAlgorithm.RSA_3072: "RSASSA_PKCS1_V1_5_SHA_256",
    KeyAlgorithm.RSA_4096: "RSASSA_PKCS1_V1_5_SHA_256",
    KeyAlgorithm.EC_P256: "ECDSA_SHA_256",
    KeyAlgorithm.EC_P384: "ECDSA_SHA_384",
}


class KmsSigner:
    def __init__(self, backend: KmsBackend, key_id: str, public_key: PublicKeyTypes) -> None:
        self._backend = backend
        self._key_id = key_id
        self._public_key = public_key
        self.algorithm = algorithm_of(public_key)
        if self.algorithm not in _SIGNING_ALGORITHM:
            raise KeyBackendError(f"KMS key {key_id} is {self.algorithm}, not a supported CA key")
        self._signing_algorithm = _SIGNING_ALGORITHM[self.algorithm]

    def public_key(self) -> PublicKeyTypes:
        return self._public_key

    def sign(self, data: bytes) -> bytes:
        if self._backend.message_type == "RAW":
            if len(data) > _RAW_LIMIT:
                raise KeyBackendError(f"KMS signs at most {_RAW_LIMIT} bytes with RAW messages")
            message = data
        else:
            message = hashlib.new(self.algorithm.hash_name or "sha256", data).digest()
        response = self._backend.call(
            "sign",
            KeyId=self._key_id,
            Message=message,
            MessageType=self._backend.message_type,
            SigningAlgorithm=self._signing_algorithm,
        )
        signature: bytes = response["Signature"]
        if not verify(self._public_key, signature, data):
            raise KeyBackendError(
                f"KMS key {self._key_id} returned a signature that does not verify "
                f"({self._backend.message_type} message, {self._signing_algorithm})"
            )
        return signature


class KmsBackend:
    exportable = False

    def __init__(
        self,
        alias: str,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        key_alias_prefix: str = "alias/anchorage/",
        message_type: str = "DIGEST",
        **options: Any,
    ) -> None:
        if message_type not in ("DIGEST", "RAW"):
            raise KeyBackendError(f"message_type must be DIGEST or RAW, not {message_type!r}")
        if not key_alias_prefix.startswith("alias/") or key_alias_prefix.startswith("alias/aws"):
            raise KeyBackendError("key_alias_prefix must start with alias/ and not alias/aws")
        self.alias = alias
        self.region = region
        self.endpoint_url = endpoint_url
        self.key_alias_prefix = key_alias_prefix
        self.message_type = message_type
        self._aws = AwsClient(
            "kms",
            name="KMS",
            options_name="KMS backend",
            error=KeyBackendError,
            region=region,
            endpoint_url=endpoint_url,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            options=options,
        )

    def client(self) -> Any:
        """The boto3 KMS client, made on first use (boto3 clients are thread-safe)."""
        return self._aws.client()

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Run a client method (``sign``, ``get_public_key``...); errors → KeyBackendError."""
        return self._aws.call(operation, **params)

    def algorithms(self) -> frozenset[KeyAlgorithm]:
        return frozenset(_KEY_SPEC)

    def generate(self, algorithm: KeyAlgorithm, label: str) -> GeneratedKey:
        if algorithm not in _KEY_SPEC:
            raise KeyBackendError(f"{algorithm} keys are not supported by the KMS backend")
        metadata = self.call(
            "create_key",
            KeyUsage="SIGN_VERIFY",
            KeySpec=_KEY_SPEC[algorithm],
            Description=f"Anchorage CA key: {label}"[:8192],
            Tags=[{"TagKey": "anchorage:label", "TagValue": label[:256]}],
        )["KeyMetadata"]
        key_id, arn = metadata["KeyId"], metadata["Arn"]
        slug = re.sub(r"[^a-zA-Z0-9/_-]+", "-", label).strip("-/") or "key"
        alias_name = f"{self.key_alias_prefix}{slug}"[: 256 - len(key_id) - 1] + f"-{key_id}"
        try:
            self.call("create_alias", AliasName=alias_name, TargetKeyId=key_id)
            public_key = self._public_key(key_id)
        except KeyBackendError:
            with contextlib.suppress(KeyBackendError):  # leave no unreferenced key behind
                self.call("schedule_key_deletion", KeyId=key_id, PendingWindowInDays=7)
            raise
        return GeneratedKey(reference=_PREFIX + arn, public_key_pem=public_pem(public_key))

    def signer(self, reference: str) -> KmsSigner:
        key_id = self._key_id(reference)
        return KmsSigner(self, key_id, self._public_key(key_id))

    def import_private_key(self, pkcs8_der: bytes, label: str) -> GeneratedKey:
        raise KeyBackendError(
            "importing key material into KMS is not supported; generate the key in KMS, "
            "or import it yourself (ImportKeyMaterial) and register its ARN"
        )

    def export_private_key(self, reference: str) -> bytes:
        raise ExportRefused("KMS keys cannot leave KMS")

    def _key_id(self, reference: str) -> str:
        if not reference.startswith(_PREFIX) or len(reference) == len(_PREFIX):
            raise KeyBackendError("not a KMS key reference")
        return reference[len(_PREFIX) :]

    def _public_key(self, key_id: str) -> PublicKeyTypes:
        response = self.call("get_public_key", KeyId=key_id)
        if response.get("KeyUsage", "SIGN_VERIFY") != "SIGN_VERIFY":
            raise KeyBackendError(f"KMS key {key_id} is not a signing key")
        try:
            return serialization.load_der_public_key(response["PublicKey"])
        except (KeyError, ValueError) as exc:
            raise KeyBackendError(f"KMS key {key_id} has no usable public key: {exc}") from None


__all__ = ["ExportRefused", "KmsBackend", "KmsSigner"]
