"""Key backends, configured like Django's STORAGES: an alias names a class and its options.

    ANCHORAGE_KEY_BACKENDS = {
        "default": {"BACKEND": "pki.crypto.backends.software.SoftwareBackend"},
        "hsm": {"BACKEND": "pki.crypto.backends.pkcs11.Pkcs11Backend",
                "OPTIONS": {"module": "/usr/lib/softhsm/libsofthsm2.so", "token": "anchorage",
                            "pin": "..."}},
        "kms": {"BACKEND": "pki.crypto.backends.awskms.KmsBackend",
                "OPTIONS": {"region": "eu-west-1"}},
    }

A CA records the alias and the backend's key reference. Backends and loaded signers are kept
per process: a CA key is loaded once, not per signature (DESIGN.md).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from pki.crypto.keys import GeneratedKey, KeyAlgorithm, KeyBackendError, Signer


class KeyBackend(Protocol):
    alias: str
    # Whether keys can leave the backend at all (software: sealed PKCS#8; HSM/KMS: never).
    exportable: bool

    def generate(self, algorithm: KeyAlgorithm, label: str) -> GeneratedKey: ...

    def signer(self, reference: str) -> Signer: ...

    def import_private_key(self, pkcs8_der: bytes, label: str) -> GeneratedKey: ...

    def export_private_key(self, reference: str) -> bytes: ...

    def algorithms(self) -> frozenset[KeyAlgorithm]: ...


_lock = threading.Lock()
_backends: dict[str, KeyBackend] = {}
_signers: dict[tuple[str, str], Signer] = {}


def configured() -> dict[str, dict[str, Any]]:
    return dict(settings.ANCHORAGE_KEY_BACKENDS)


def get_backend(alias: str) -> KeyBackend:
    with _lock:
        backend = _backends.get(alias)
        if backend is None:
            config = configured().get(alias)
            if config is None:
                raise KeyBackendError(f"no key backend named {alias!r}")
            cls = import_string(config["BACKEND"])
            backend = cls(alias=alias, **config.get("OPTIONS", {}))
            _backends[alias] = backend
        return backend


def get_signer(alias: str, reference: str) -> Signer:
    key = (alias, reference)
    signer = _signers.get(key)
    if signer is None:
        signer = get_backend(alias).signer(reference)
        with _lock:
            _signers[key] = signer
    return signer


def reset() -> None:
    """Forget loaded backends and keys (tests that change settings)."""
    with _lock:
        _backends.clear()
        _signers.clear()
