"""KmsBackend against a real moto_server process over HTTP (tests/pki/crypto/conftest_aws.py)."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from pki.crypto import certs, conformance
from pki.crypto.backends.awskms import KmsBackend
from pki.crypto.backends.software import generate_private_key
from pki.crypto.keys import (
    ExportRefused,
    KeyAlgorithm,
    KeyBackendError,
    Signer,
    public_pem,
    verify,
)
from tests.pki.crypto.conftest_aws import CREDENTIALS, REGION, free_port
from tests.pki.helpers import assert_verifies

KMS_ALGORITHMS = [
    KeyAlgorithm.RSA_2048,
    KeyAlgorithm.RSA_3072,
    KeyAlgorithm.RSA_4096,
    KeyAlgorithm.EC_P256,
    KeyAlgorithm.EC_P384,
]
MISSING_KEY = "kms:arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"


def test_lists_the_algorithms_kms_signs_with() -> None:
    backend = KmsBackend(alias="kms")
    assert backend.algorithms() == frozenset(KMS_ALGORITHMS)
    assert backend.exportable is False


@pytest.mark.parametrize("algorithm", KMS_ALGORITHMS, ids=str)
def test_conformance(kms_backend: KmsBackend, algorithm: KeyAlgorithm) -> None:
    report = conformance.check(kms_backend, algorithm)
    assert report.ok, report.failures
    assert report.reference.startswith("kms:arn:aws:kms:us-east-1:")


def test_generate_tags_and_aliases_the_key(kms_backend: KmsBackend) -> None:
    generated = kms_backend.generate(KeyAlgorithm.EC_P256, "Root CA: ops/2026")
    arn = generated.reference.removeprefix("kms:")
    client = kms_backend.client()
    key_id = client.describe_key(KeyId=arn)["KeyMetadata"]["KeyId"]
    aliases = [a["AliasName"] for a in client.list_aliases(KeyId=key_id)["Aliases"]]
    assert aliases == [f"alias/anchorage/Root-CA-ops/2026-{key_id}"]
    tags = client.list_resource_tags(KeyId=key_id)["Tags"]
    assert {"TagKey": "anchorage:label", "TagValue": "Root CA: ops/2026"} in tags
    signer = kms_backend.signer(generated.reference)
    assert public_pem(signer.public_key()) == generated.public_key_pem
    assert not hasattr(signer, "private_key")  # builders must go through sign()


def test_ed25519_is_refused(kms_backend: KmsBackend) -> None:
    with pytest.raises(KeyBackendError, match="not supported"):
        kms_backend.generate(KeyAlgorithm.ED25519, "ed")


def test_export_is_refused(kms_backend: KmsBackend) -> None:
    generated = kms_backend.generate(KeyAlgorithm.EC_P256, "no-export")
    with pytest.raises(ExportRefused):
        kms_backend.export_private_key(generated.reference)


def test_import_is_refused(kms_backend: KmsBackend) -> None:
    key = generate_private_key(KeyAlgorithm.EC_P256)
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyBackendError, match="importing key material into KMS"):
        kms_backend.import_private_key(pkcs8, "imported")


@pytest.mark.parametrize("reference", [MISSING_KEY, "kms:", "sealed:abc"])
def test_unknown_key_reference(kms_backend: KmsBackend, reference: str) -> None:
    with pytest.raises(KeyBackendError):
        kms_backend.signer(reference)


def test_encryption_key_is_not_a_signing_key(kms_backend: KmsBackend) -> None:
    created = kms_backend.client().create_key(KeyUsage="ENCRYPT_DECRYPT", KeySpec="RSA_2048")
    arn = created["KeyMetadata"]["Arn"]
    with pytest.raises(KeyBackendError, match="not a signing key"):
        kms_backend.signer(f"kms:{arn}")


def test_server_down_fails_fast() -> None:
    backend = KmsBackend(
        alias="kms",
        endpoint_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        region=REGION,
        connect_timeout=1,
        read_timeout=1,
        retries={"max_attempts": 1},
        **CREDENTIALS,
    )
    started = time.monotonic()
    with pytest.raises(KeyBackendError, match="Could not connect"):
        backend.generate(KeyAlgorithm.EC_P256, "down")
    with pytest.raises(KeyBackendError, match="Could not connect"):
        backend.signer(MISSING_KEY)
    assert time.monotonic() - started < 5


def test_bad_options_are_refused() -> None:
    with pytest.raises(KeyBackendError, match="invalid KMS backend options"):
        KmsBackend(alias="kms", conect_timeout=1)
    with pytest.raises(KeyBackendError, match="message_type"):
        KmsBackend(alias="kms", message_type="EXTERNAL_MU")


def test_raw_messages_over_4096_bytes_are_refused(kms_backend: KmsBackend) -> None:
    signer = kms_backend.signer(kms_backend.generate(KeyAlgorithm.EC_P256, "raw").reference)
    assert verify(signer.public_key(), signer.sign(b"x" * 4096), b"x" * 4096)
    with pytest.raises(KeyBackendError, match="4096"):
        signer.sign(b"x" * 4097)


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P384], ids=str)
def test_digest_mode_sends_the_local_digest(moto_server: str, algorithm: KeyAlgorithm) -> None:
    """The production default: hash locally, Sign with MessageType=DIGEST.

    Real KMS signs the digest as given. moto 5.x ignores MessageType and hashes the digest
    again, so its signature verifies over the digest as a message, not over the data; the
    signer notices (it verifies every signature) and refuses to return it.
    """
    backend = KmsBackend(alias="kms", endpoint_url=moto_server, region=REGION, **CREDENTIALS)
    signer = backend.signer(backend.generate(algorithm, "digest").reference)
    sent: dict[str, Any] = {}
    received: dict[str, Any] = {}
    events = backend.client().meta.events
    events.register("provide-client-params.kms.Sign", lambda params, **_: sent.update(params))
    events.register("after-call.kms.Sign", lambda parsed, **_: received.update(parsed))
    data = b"to-be-signed " * 1000  # over the 4096 bytes RAW allows
    digest = hashlib.new(algorithm.hash_name or "", data).digest()
    try:
        signature = signer.sign(data)
    except KeyBackendError as exc:
        assert "does not verify" in str(exc)
        assert verify(signer.public_key(), received["Signature"], digest)  # moto's double hash
    else:  # an emulator (or KMS) that honours DIGEST
        assert verify(signer.public_key(), signature, data)
    assert sent["MessageType"] == "DIGEST"
    assert sent["Message"] == digest
    assert sent["SigningAlgorithm"] == (
        "RSASSA_PKCS1_V1_5_SHA_256" if algorithm.family == "rsa" else "ECDSA_SHA_384"
    )


def _template(subject: str, public_key_der: bytes, **kw: Any) -> certs.CertTemplate:
    now = certs.now()
    return certs.CertTemplate(
        subject=[("O", "Anchorage Test"), ("CN", subject)],
        public_key_der=public_key_der,
        serial=certs.random_serial(),
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=30),
        **kw,
    )


def _spki(signer: Signer) -> bytes:
    return signer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_2048], ids=str)
def test_chain_with_kms_root_and_intermediate_verifies_with_openssl(
    kms_backend: KmsBackend, algorithm: KeyAlgorithm, tmp_path: Path
) -> None:
    root = kms_backend.signer(kms_backend.generate(algorithm, "root").reference)
    issuing = kms_backend.signer(kms_backend.generate(algorithm, "issuing").reference)
    ca_usage = ["keyCertSign", "cRLSign"]
    root_der = certs.build(
        _template("KMS Root", _spki(root), is_ca=True, path_length=1, key_usage=ca_usage),
        root,
        None,
    )
    issuing_der = certs.build(
        _template("KMS Issuing", _spki(issuing), is_ca=True, path_length=0, key_usage=ca_usage),
        root,
        root_der,
    )
    leaf_key = generate_private_key(KeyAlgorithm.EC_P256)  # the subscriber's, in software
    leaf_der = certs.build(
        _template(
            "leaf.example",
            public_key_der=leaf_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            key_usage=["digitalSignature"],
            ext_key_usage=["serverAuth"],
            dns_names=["leaf.example"],
        ),
        issuing,
        issuing_der,
    )
    assert certs.info(root_der).self_signed
    assert certs.signed_by(issuing_der, root_der)
    assert certs.signed_by(leaf_der, issuing_der)
    assert_verifies(
        tmp_path,
        trusted=[root_der],
        untrusted=[issuing_der],
        target=leaf_der,
        extra=("-x509_strict",),
    )
