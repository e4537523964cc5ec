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
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

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


_Signed = TypeVar("_Signed", x509.Certificate, x509.CertificateRevocationList)
_Signed_co = TypeVar("_Signed_co", covariant=True)


class _Builder(Protocol[_Signed_co]):
    def sign(self, private_key: CertificateIssuerPrivateKeyTypes, algorithm: Any) -> _Signed_co: ...


def _sign(
    builder: _Builder[_Signed],
    signer: Signer,
    tbs_of: Callable[[_Signed], bytes],
    load_der: Callable[[bytes], _Signed],
) -> _Signed:
    """`builder` signed by `signer`: directly with an in-process key, else through a draft
    signed by the family's placeholder whose to-be-signed bytes the backend signs."""
    digest = hash_for(signer.algorithm)
    key = in_process_key(signer)
    if key is not None:
        return builder.sign(key, digest)
    tbs = tbs_of(builder.sign(_placeholder(signer.algorithm), digest))
    return load_der(der.signed(tbs, signer.algorithm, signer.sign(tbs)))


def sign_certificate(builder: x509.CertificateBuilder, signer: Signer) -> x509.Certificate:
    return _sign(builder, signer, lambda c: c.tbs_certificate_bytes, x509.load_der_x509_certificate)


def sign_crl(
    builder: x509.CertificateRevocationListBuilder, signer: Signer
) -> x509.CertificateRevocationList:
    return _sign(builder, signer, lambda c: c.tbs_certlist_bytes, x509.load_der_x509_crl)


def draft_tbs_crl(builder: x509.CertificateRevocationListBuilder, algorithm: KeyAlgorithm) -> bytes:
    """The TBSCertList `builder` makes for a key of `algorithm`, drafted with the family's
    placeholder: for callers that change the TBS (CRL entries spliced in) and sign it with
    the CA's own Signer."""
    digest: Any = hash_for(algorithm)
    return builder.sign(_placeholder(algorithm), digest).tbs_certlist_bytes
