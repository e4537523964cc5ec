"""CA keys on a PKCS#11 token (SoftHSM2 in tests, a network or USB HSM in production).

Configured in ANCHORAGE_KEY_BACKENDS, which is read as JSON from the environment:

    {"hsm": {"BACKEND": "pki.crypto.backends.pkcs11.Pkcs11Backend",
             "OPTIONS": {"module": "/usr/lib/softhsm/libsofthsm2.so",
                         "token": "anchorage", "pin": "..."}}}

The user PIN is an option value like the others: it lives in that environment variable, never
in the database, and never appears in messages. A key reference is "pkcs11:id=<hex CKA_ID>".
Private keys are token objects, sensitive and not extractable; export is always refused.

Concurrency: python-pkcs11 calls C_Initialize without locking callbacks, so every call into
one module is serialised by one lock per module and process. Each backend holds one R/W
session, opened lazily, reopened once when lost, and after a fork (the child re-initialises
the module). PKCS#11 login is per application and token: when another backend in this
process is logged in, C_Login answers CKR_USER_ALREADY_LOGGED_IN without checking the PIN,
so that is accepted only when our PIN is the one that logged in.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pkcs11 import Attribute as A
from pkcs11 import KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.types import Object, Session, SignMixin, Token

from pki.crypto import der
from pki.crypto.keys import (
    ExportRefused,
    GeneratedKey,
    KeyAlgorithm,
    KeyBackendError,
    algorithm_of,
    public_pem,
)

T = TypeVar("T")
_PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
_PREFIX = "pkcs11:id="
# DER ECParameters (namedCurve OID) per curve; id-Ed25519 for Ed25519 (RFC 8410).
_EC_PARAMS = {
    KeyAlgorithm.EC_P256: bytes.fromhex("06082a8648ce3d030107"),
    KeyAlgorithm.EC_P384: bytes.fromhex("06052b81040022"),
    KeyAlgorithm.ED25519: bytes.fromhex("06032b6570"),
}
_CURVES = {
    _EC_PARAMS[KeyAlgorithm.EC_P256]: ec.SECP256R1(),
    _EC_PARAMS[KeyAlgorithm.EC_P384]: ec.SECP384R1(),
}
_RSA_PARTS = (A.PRIVATE_EXPONENT, A.PRIME_1, A.PRIME_2, A.EXPONENT_1, A.EXPONENT_2, A.COEFFICIENT)
# Private halves: token objects behind the login, never in clear, for signing only.
_PRIVATE: dict[A, Any] = dict.fromkeys((A.TOKEN, A.PRIVATE, A.SENSITIVE, A.SIGN), True)
_PRIVATE |= dict.fromkeys((A.EXTRACTABLE, A.DECRYPT, A.UNWRAP, A.DERIVE), False)
_PUBLIC: dict[A, Any] = dict.fromkeys((A.TOKEN, A.VERIFY), True)
_PUBLIC |= dict.fromkeys((A.PRIVATE, A.ENCRYPT, A.WRAP), False)
# Errors after which a fresh session may succeed: the session or its login went away.
_LOST: tuple[type[p11.PKCS11Error], ...] = (p11.SessionHandleInvalid, p11.SessionClosed)
_LOST += (
    p11.UserNotLoggedIn,
    p11.ObjectHandleInvalid,
    p11.KeyHandleInvalid,
    p11.DeviceRemoved,
    p11.TokenNotPresent,
)


class _Library:
    """One loaded module per process; its lock guards every call into it."""

    def __init__(self, module: str) -> None:
        self.module, self.lock, self.pid = module, threading.Lock(), 0
        self.lib: Any = None  # pkcs11.lib, loaded on first use
        self.logins: dict[str, bytes] = {}  # token label → SHA-256 of the PIN that logged in

    def get(self) -> Any:  # caller holds self.lock
        if self.lib is None:
            self.lib = pkcs11.lib(self.module)
        elif self.pid != os.getpid():  # forked: the parent's sessions and login are not ours
            with contextlib.suppress(p11.PKCS11Error):
                self.lib.finalize()
            self.lib.initialize()
            self.logins.clear()
        self.pid = os.getpid()
        return self.lib


_libraries: dict[str, _Library] = {}
_libraries_lock = threading.Lock()


def _after_fork() -> None:  # a lock held by another thread of the parent is never released
    global _libraries_lock
    _libraries_lock = threading.Lock()
    for library in _libraries.values():
        library.lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def _describe(exc: Exception) -> str:
    if type(exc) is p11.PKCS11Error:
        return str(exc) or "unknown error"
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", type(exc).__name__).lower()  # "pin incorrect"
    return f"{words} ({exc})" if str(exc) else words


def _octets(value: int, size: int = 0) -> bytes:
    return value.to_bytes(max(size, (value.bit_length() + 7) // 8, 1), "big")


def _unwrap_point(value: bytes) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING around the point; some tokens store it bare."""
    if len(value) > 2 and value[0] == 0x04:
        length, start = value[1], 2
        if length & 0x80:
            start = 2 + (length & 0x7F)
            length = int.from_bytes(value[2:start], "big")
        if start + length == len(value):
            return value[start:]
    return value


def _public_key(obj: Object) -> PublicKeyTypes:
    key_type = obj[A.KEY_TYPE]
    if key_type == KeyType.RSA:
        e, n = (int.from_bytes(obj[a], "big") for a in (A.PUBLIC_EXPONENT, A.MODULUS))
        return rsa.RSAPublicNumbers(e, n).public_key()
    point = _unwrap_point(bytes(obj[A.EC_POINT]))
    if key_type == KeyType.EC_EDWARDS:
        return ed25519.Ed25519PublicKey.from_public_bytes(point)
    curve = _CURVES.get(bytes(obj[A.EC_PARAMS])) if key_type == KeyType.EC else None
    if curve is None:
        raise KeyBackendError(f"unsupported key type or curve on the token ({key_type})")
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)


def _components(key: _PrivateKey) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The (private, public) attributes that carry an imported key's components."""
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        e, m = n.public_numbers.e, n.public_numbers.n
        public = {A.KEY_TYPE: KeyType.RSA, A.MODULUS: _octets(m), A.PUBLIC_EXPONENT: _octets(e)}
        secret = zip(_RSA_PARTS, (n.d, n.p, n.q, n.dmp1, n.dmq1, n.iqmp), strict=True)
        return public | {a: _octets(v) for a, v in secret}, public
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        key_type, value = KeyType.EC, _octets(key.private_numbers().private_value, size)
        point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    else:
        key_type, value = KeyType.EC_EDWARDS, key.private_bytes_raw()
        point = key.public_key().public_bytes_raw()
    public = {A.KEY_TYPE: key_type, A.EC_PARAMS: _EC_PARAMS[algorithm_of(key.public_key())]}
    return public | {A.VALUE: value}, public | {A.EC_POINT: der.tlv(0x04, point)}


class Pkcs11Signer:
    """Signs on the token. No `private_key` attribute: the builders must call sign()."""

    def __init__(self, backend: Pkcs11Backend, key_id: bytes, public_key: PublicKeyTypes) -> None:
        self._backend, self._key_id, self._public_key = backend, key_id, public_key
        self.algorithm = algorithm_of(public_key)

    def public_key(self) -> PublicKeyTypes:
        return self._public_key

    def sign(self, data: bytes) -> bytes:
        return self._backend.sign(self._key_id, self.algorithm, data)


class Pkcs11Backend:
    exportable = False

    def __init__(self, alias: str, module: str, token: str, pin: str, **options: Any) -> None:
        if options:
            raise KeyBackendError(f"unknown PKCS#11 backend options: {', '.join(sorted(options))}")
        self.alias, self.module, self.token, self._pin = alias, module, token, pin
        with _libraries_lock:
            self._library = _libraries.setdefault(module, _Library(module))
        self._session: Session | None = None
        self._pid = 0
        self._keys: dict[bytes, SignMixin] = {}
        self._algorithms: frozenset[KeyAlgorithm] | None = None

    def __repr__(self) -> str:
        return f"Pkcs11Backend(alias={self.alias!r}, module={self.module!r}, token={self.token!r})"

    def algorithms(self) -> frozenset[KeyAlgorithm]:
        """What the token's mechanism list says it can generate and sign with."""
        if self._algorithms is None:
            self._algorithms = self._run("mechanism query", _query_algorithms)
        return self._algorithms

    def generate(self, algorithm: KeyAlgorithm, label: str) -> GeneratedKey:
        self._check(algorithm)
        key_id, key_type, public = os.urandom(16), KeyType.RSA, dict(_PUBLIC)
        if algorithm.family != "rsa":
            key_type = KeyType.EC if algorithm.family == "ec" else KeyType.EC_EDWARDS
            public[A.EC_PARAMS] = _EC_PARAMS[algorithm]

        def op(session: Session) -> PublicKeyTypes:
            pub, _ = session.generate_keypair(
                key_type,
                algorithm.rsa_bits or None,
                id=key_id,
                label=label,
                store=True,
                public_template=public,
                private_template=_PRIVATE,
            )
            return _public_key(pub)

        return GeneratedKey(_PREFIX + key_id.hex(), public_pem(self._run("key generation", op)))

    def import_private_key(self, pkcs8_der: bytes, label: str) -> GeneratedKey:
        try:
            key = serialization.load_der_private_key(pkcs8_der, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyBackendError(f"not a usable private key: {exc}") from None
        if not isinstance(key, _PrivateKey):
            raise KeyBackendError(f"unsupported private key type {type(key).__name__}")
        self._check(algorithm_of(key.public_key()))
        key_id = os.urandom(16)
        common = {A.ID: key_id, A.LABEL: label}
        private, public = _components(key)
        private |= _PRIVATE | common | {A.CLASS: ObjectClass.PRIVATE_KEY}
        public |= _PUBLIC | common | {A.CLASS: ObjectClass.PUBLIC_KEY}

        def op(session: Session) -> None:
            created = session.create_object(private)
            try:
                session.create_object(public)
            except p11.PKCS11Error:
                created.destroy()
                raise

        self._run("key import", op)
        return GeneratedKey(_PREFIX + key_id.hex(), public_pem(key.public_key()))

    def signer(self, reference: str) -> Pkcs11Signer:
        if not re.fullmatch(r"pkcs11:id=(?:[0-9a-fA-F]{2})+", reference):
            raise KeyBackendError("not a PKCS#11 key reference")
        key_id = bytes.fromhex(reference[len(_PREFIX) :])

        def op(session: Session) -> PublicKeyTypes:
            self._private_key(session, key_id)  # the private half must be there too
            return _public_key(session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id))

        return Pkcs11Signer(self, key_id, self._run(f"lookup of key {key_id.hex()}", op))

    def export_private_key(self, reference: str) -> bytes:
        raise ExportRefused(f"keys on PKCS#11 token {self.token!r} never leave it")

    def sign(self, key_id: bytes, algorithm: KeyAlgorithm, data: bytes) -> bytes:
        """The signature in X.509 form (Signer.sign); ECDSA digests are made here."""
        payload, mechanism = data, Mechanism.EDDSA
        if algorithm.family == "rsa":  # PKCS#1 v1.5 with SHA-256, the token hashes
            mechanism = Mechanism.SHA256_RSA_PKCS
        elif algorithm.family == "ec":  # CKM_ECDSA signs our digest and returns r || s
            payload = hashlib.new(algorithm.hash_name or "sha256", data).digest()
            mechanism = Mechanism.ECDSA

        def op(session: Session) -> bytes:
            return self._private_key(session, key_id).sign(payload, mechanism=mechanism)

        signature = self._run("signing", op)
        return der.ecdsa_raw_to_der(signature) if algorithm.family == "ec" else signature

    def _check(self, algorithm: KeyAlgorithm) -> None:
        if algorithm not in self.algorithms():
            raise KeyBackendError(f"{algorithm} keys are not available on token {self.token!r}")

    def _private_key(self, session: Session, key_id: bytes) -> SignMixin:
        key = self._keys.get(key_id)
        if key is None:
            found = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            key = self._keys[key_id] = cast(SignMixin, found)
        return key

    def _run(self, action: str, op: Callable[[Session], T]) -> T:
        """Call `op` with the session, under the module lock; reopen a lost session once."""
        with self._library.lock:
            try:
                try:
                    return op(self._open())
                except _LOST:
                    self._session = None
                    return op(self._open())
            except p11.PKCS11Error as exc:
                raise KeyBackendError(
                    f"PKCS#11 {action} on token {self.token!r} failed: {_describe(exc)}"
                ) from None
            except (ValueError, TypeError) as exc:
                raise KeyBackendError(f"PKCS#11 {action} on token {self.token!r}: {exc}") from None

    def _open(self) -> Session:  # caller holds the module lock
        lib = self._library.get()
        if self._session is not None and self._pid == os.getpid():
            return self._session
        self._session, self._keys = None, {}
        token: Token = lib.get_token(token_label=self.token)
        digest = hashlib.sha256(self._pin.encode()).digest()
        try:
            session = token.open(rw=True, user_pin=self._pin)
        except p11.UserAlreadyLoggedIn:
            known = self._library.logins.get(self.token)
            if known is None or not hmac.compare_digest(known, digest):
                raise KeyBackendError(
                    f"token {self.token!r} is already logged in in this process with another PIN"
                ) from None
            session = token.open(rw=True)  # the login is shared by all of the process's sessions
        self._library.logins[self.token] = digest
        self._session, self._pid = session, os.getpid()
        return session


def _query_algorithms(session: Session) -> frozenset[KeyAlgorithm]:
    slot = session.token.slot
    mechanisms = slot.get_mechanisms()
    found: set[KeyAlgorithm] = set()
    if {Mechanism.RSA_PKCS_KEY_PAIR_GEN, Mechanism.SHA256_RSA_PKCS} <= mechanisms:
        info = slot.get_mechanism_info(Mechanism.RSA_PKCS_KEY_PAIR_GEN)
        low, high = info.min_key_length or 0, info.max_key_length or 1 << 20
        found |= {a for a in KeyAlgorithm if a.family == "rsa" and low <= a.rsa_bits <= high}
    if {Mechanism.EC_KEY_PAIR_GEN, Mechanism.ECDSA} <= mechanisms:
        found |= {KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384}
    if {Mechanism.EC_EDWARDS_KEY_PAIR_GEN, Mechanism.EDDSA} <= mechanisms:
        found.add(KeyAlgorithm.ED25519)
    return frozenset(found)


__all__ = ["Pkcs11Backend", "Pkcs11Signer"]
