"""Signing a `cryptography` builder with any Signer.

`cryptography` signs only with its own key objects. For a key in software we hand it the
key (one pass). For a key in an HSM or KMS we let `cryptography` build the structure with a
throw-away key of the same family, take the to-be-signed bytes, have the backend sign them,
and assemble the result ourselves (pki.crypto.der). The throw-away key only ever signs
structures that are discarded; the signature algorithm in the TBS depends on the family and
digest, not on the key, so the assembled result is exactly what the backend's key would
have produced.
"""

from __future__ import annotations

import threading
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from pki.crypto import der
from pki.crypto.keys import KeyAlgorithm, Signer, hash_for

_placeholders: dict[str, CertificateIssuerPrivateKeyTypes] = {}
_lock = threading.Lock()


def _placeholder(algorithm: KeyAlgorithm) -> CertificateIssuerPrivateKeyTypes:
    with _lock:
        key = _placeholders.get(algorithm.family)
        if key is None:
            if algorithm.family == "rsa":
                # The cheapest RSA key: it signs nothing anyone keeps.
                key = rsa.generate_private_key(65537, 1024)  # noqa: S505
            elif algorithm.family == "ec":
                key = ec.generate_private_key(ec.SECP256R1())
            else:
                key = ed25519.Ed25519PrivateKey.generate()
            _placeholders[algorithm.family] = key
        return key


def in_process_key(signer: Signer) -> CertificateIssuerPrivateKeyTypes | None:
    key: Any = getattr(signer, "private_key", None)
    return key


def sign_certificate(builder: x509.CertificateBuilder, signer: Signer) -> x509.Certificate:
    digest = hash_for(signer.algorithm)
    key = in_process_key(signer)
    if key is not None:
        return builder.sign(key, digest)  # type: ignore[arg-type]
    draft = builder.sign(_placeholder(signer.algorithm), digest)  # type: ignore[arg-type]
    tbs = draft.tbs_certificate_bytes
    return x509.load_der_x509_certificate(der.signed(tbs, signer.algorithm, signer.sign(tbs)))


def sign_crl(
    builder: x509.CertificateRevocationListBuilder, signer: Signer
) -> x509.CertificateRevocationList:
    digest = hash_for(signer.algorithm)
    key = in_process_key(signer)
    if key is not None:
        return builder.sign(key, digest)  # type: ignore[arg-type]
    draft = builder.sign(_placeholder(signer.algorithm), digest)  # type: ignore[arg-type]
    tbs = draft.tbs_certlist_bytes
    return x509.load_der_x509_crl(der.signed(tbs, signer.algorithm, signer.sign(tbs)))
