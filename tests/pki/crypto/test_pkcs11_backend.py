"""The PKCS#11 key backend against a real SoftHSM2 token (softhsm_backend, conftest.py).

No mocks: keys are generated on the token, signatures are made by the token, and the CA chain
is checked by the openssl command line tool.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import AttributeSensitive
from pytest_django.fixtures import Settings

from pki.crypto import backends, certs, conformance, signing
from pki.crypto.backends.pkcs11 import Pkcs11Backend
from pki.crypto.backends.software import generate_private_key
from pki.crypto.keys import (
    ExportRefused,
    KeyAlgorithm,
    KeyBackendError,
    Signer,
    load_public_pem,
    verify,
)
from tests.pki.crypto.conftest import SOFTHSM_MODULE, SOFTHSM_PIN, SOFTHSM_TOKEN
from tests.pki.helpers import assert_verifies

REQUIRED = {
    KeyAlgorithm.RSA_2048,
    KeyAlgorithm.RSA_3072,
    KeyAlgorithm.RSA_4096,
    KeyAlgorithm.EC_P256,
    KeyAlgorithm.EC_P384,
}
ROOT = Path(__file__).resolve().parents[3]


def key_id(reference: str) -> bytes:
    assert reference.startswith("pkcs11:id=")
    return bytes.fromhex(reference.removeprefix("pkcs11:id="))


def private_object_attributes(key: bytes, names: list[Attribute]) -> dict[Attribute, object]:
    """Read the private key object back through pkcs11 directly, not through the backend.

    PKCS#11 login is per process and token: the backend's session is logged in, so this
    second, PIN-less session sees the private objects too."""
    token = pkcs11.lib(SOFTHSM_MODULE).get_token(token_label=SOFTHSM_TOKEN)
    with token.open() as session:
        obj = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key)
        values: dict[Attribute, object] = {name: obj[name] for name in names}
        secret = Attribute.VALUE if obj.key_type != pkcs11.KeyType.RSA else Attribute.PRIME_1
        with pytest.raises(AttributeSensitive):
            obj[secret]
        return values


def new_signer(backend: Pkcs11Backend, algorithm: KeyAlgorithm, label: str) -> Signer:
    return backend.signer(backend.generate(algorithm, label).reference)


def spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_required_algorithms_are_listed(softhsm_backend: Pkcs11Backend) -> None:
    assert softhsm_backend.algorithms() >= REQUIRED
    assert softhsm_backend.exportable is False


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm), ids=str)
def test_conformance(softhsm_backend: Pkcs11Backend, algorithm: KeyAlgorithm) -> None:
    if algorithm not in softhsm_backend.algorithms():
        assert algorithm not in REQUIRED
        with pytest.raises(KeyBackendError, match="not available"):
            softhsm_backend.generate(algorithm, "unsupported")
        return
    report = conformance.check(softhsm_backend, algorithm, label=f"conformance {algorithm}")
    assert report.ok, report.failures
    signer = softhsm_backend.signer(report.reference)
    assert signer.algorithm is algorithm
    # The builders must take the sign() path: no key object to hand to cryptography.
    assert not hasattr(signer, "private_key")
    assert signing.in_process_key(signer) is None


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_2048], ids=str)
def test_generated_key_is_sensitive_and_never_exported(
    softhsm_backend: Pkcs11Backend, algorithm: KeyAlgorithm
) -> None:
    generated = softhsm_backend.generate(algorithm, "no-export")
    with pytest.raises(ExportRefused):
        softhsm_backend.export_private_key(generated.reference)
    signer = softhsm_backend.signer(generated.reference)
    assert spki(load_public_pem(generated.public_key_pem)) == spki(signer.public_key())

    expected = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.ALWAYS_SENSITIVE: True,
        Attribute.NEVER_EXTRACTABLE: True,
        Attribute.SIGN: True,
        Attribute.DECRYPT: False,
        Attribute.LABEL: "no-export",
    }
    assert private_object_attributes(key_id(generated.reference), list(expected)) == expected


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm), ids=str)
def test_imported_key_lands_sensitive_and_signs(
    softhsm_backend: Pkcs11Backend, algorithm: KeyAlgorithm
) -> None:
    key = generate_private_key(algorithm)
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if algorithm not in softhsm_backend.algorithms():
        with pytest.raises(KeyBackendError):
            softhsm_backend.import_private_key(pkcs8, "imported")
        return
    imported = softhsm_backend.import_private_key(pkcs8, "imported")
    signer = softhsm_backend.signer(imported.reference)
    assert spki(signer.public_key()) == spki(key.public_key())
    assert verify(key.public_key(), signer.sign(b"imported"), b"imported")
    with pytest.raises(ExportRefused):
        softhsm_backend.export_private_key(imported.reference)
    attrs = private_object_attributes(
        key_id(imported.reference), [Attribute.SENSITIVE, Attribute.EXTRACTABLE]
    )
    assert attrs == {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False}


def test_import_rejects_garbage(softhsm_backend: Pkcs11Backend) -> None:
    with pytest.raises(KeyBackendError, match="not a usable private key"):
        softhsm_backend.import_private_key(b"\x30\x03\x02\x01\x00", "garbage")


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_2048], ids=str)
def test_ca_chain_on_the_token_verifies_with_openssl(
    softhsm_backend: Pkcs11Backend, algorithm: KeyAlgorithm, tmp_path: Path
) -> None:
    root_signer = new_signer(softhsm_backend, algorithm, "root")
    issuing_signer = new_signer(softhsm_backend, algorithm, "issuing")
    leaf_key = generate_private_key(algorithm)  # an end entity's key, in software
    start = certs.now() - timedelta(minutes=5)

    def template(cn: str, public_key: PublicKeyTypes, **kw: object) -> certs.CertTemplate:
        return certs.CertTemplate(
            subject=[("CN", cn)],
            public_key_der=spki(public_key),
            serial=certs.random_serial(),
            not_before=start,
            not_after=start + timedelta(days=30),
            **kw,  # type: ignore[arg-type]
        )

    ca_usage = ["keyCertSign", "cRLSign"]
    root = certs.build(
        template(
            f"PKCS#11 Root {algorithm}",
            root_signer.public_key(),
            is_ca=True,
            path_length=1,
            key_usage=ca_usage,
        ),
        root_signer,
        None,
    )
    issuing = certs.build(
        template(
            f"PKCS#11 Issuing {algorithm}",
            issuing_signer.public_key(),
            is_ca=True,
            path_length=0,
            key_usage=ca_usage,
        ),
        root_signer,
        root,
    )
    leaf = certs.build(
        template(
            "leaf.example.test",
            leaf_key.public_key(),
            key_usage=["digitalSignature"],
            ext_key_usage=["serverAuth"],
            dns_names=["leaf.example.test"],
        ),
        issuing_signer,
        issuing,
    )
    assert certs.signed_by(issuing, root) and certs.signed_by(leaf, issuing)

    assert_verifies(
        tmp_path, trusted=[root], untrusted=[issuing], target=leaf, extra=("-x509_strict",)
    )
    assert certs.info(leaf).key_algorithm == str(algorithm)


def test_unknown_key_is_a_backend_error(softhsm_backend: Pkcs11Backend) -> None:
    with pytest.raises(KeyBackendError, match="no such key"):
        softhsm_backend.signer("pkcs11:id=" + os.urandom(16).hex())
    with pytest.raises(KeyBackendError, match="not a PKCS#11 key reference"):
        softhsm_backend.signer("sealed:AAAA")


def test_unknown_token_is_a_backend_error(softhsm_backend: Pkcs11Backend) -> None:
    other = Pkcs11Backend(alias="x", module=SOFTHSM_MODULE, token="no-such-token", pin="1")
    with pytest.raises(KeyBackendError, match="no such token"):
        other.algorithms()


def test_wrong_pin_is_a_backend_error(softhsm_backend: Pkcs11Backend) -> None:
    reference = softhsm_backend.generate(KeyAlgorithm.EC_P256, "pin-test").reference
    wrong = Pkcs11Backend(alias="bad", module=SOFTHSM_MODULE, token=SOFTHSM_TOKEN, pin="0000")
    # This process is logged in already (login is per process and token): the wrong PIN is
    # caught without a second C_Login, and the good backend keeps working.
    with pytest.raises(KeyBackendError, match="another PIN"):
        wrong.signer(reference)
    signer = softhsm_backend.signer(reference)
    assert verify(signer.public_key(), signer.sign(b"still here"), b"still here")
    assert "0000" not in repr(wrong) and SOFTHSM_PIN not in repr(softhsm_backend)


def test_wrong_pin_in_a_fresh_process_is_refused_by_the_token(
    softhsm_backend: Pkcs11Backend,
) -> None:
    # A process that has not logged in yet: the token itself answers CKR_PIN_INCORRECT.
    script = (
        "from pki.crypto.backends.pkcs11 import Pkcs11Backend\n"
        "from pki.crypto.keys import KeyBackendError\n"
        f"b = Pkcs11Backend(alias='bad', module={SOFTHSM_MODULE!r}, token={SOFTHSM_TOKEN!r},"
        " pin='0000')\n"
        "try:\n    b.algorithms()\nexcept KeyBackendError as e:\n    print('refused:', e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "refused:" in result.stdout and "pin incorrect" in result.stdout, result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_signing_from_two_threads(softhsm_backend: Pkcs11Backend) -> None:
    signer = new_signer(softhsm_backend, KeyAlgorithm.EC_P256, "threads")
    rsa_signer = new_signer(softhsm_backend, KeyAlgorithm.RSA_2048, "threads-rsa")
    start = threading.Barrier(3)

    def work(n: int) -> list[tuple[bytes, bytes, bytes]]:
        start.wait()
        out = []
        for i in range(50):
            message = f"thread {n} message {i}".encode()
            out.append((message, signer.sign(message), rsa_signer.sign(message)))
        return out

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(work, n) for n in range(2)]
        start.wait()
        results = [item for f in futures for item in f.result(timeout=120)]
    assert len(results) == 100
    for message, ec_signature, rsa_signature in results:
        assert verify(signer.public_key(), ec_signature, message)
        assert verify(rsa_signer.public_key(), rsa_signature, message)


def test_signing_after_fork(softhsm_backend: Pkcs11Backend) -> None:
    # In a fresh process (as a gunicorn or Celery parent would be), not this test process,
    # whose other tests leave threads and library state of their own behind.
    script = (
        "import os\n"
        "from pki.crypto.backends.pkcs11 import Pkcs11Backend\n"
        "from pki.crypto.keys import KeyAlgorithm, verify\n"
        f"b = Pkcs11Backend(alias='f', module={SOFTHSM_MODULE!r}, token={SOFTHSM_TOKEN!r},"
        f" pin={SOFTHSM_PIN!r})\n"
        "s = b.signer(b.generate(KeyAlgorithm.EC_P256, 'fork').reference)\n"
        "assert verify(s.public_key(), s.sign(b'parent'), b'parent')\n"
        "r, w = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    try:\n        os.write(w, s.sign(b'child'))\n"
        "    finally:\n        os._exit(0)\n"
        "os.close(w)\n"
        "child = os.fdopen(r, 'rb').read()\n"
        "os.waitpid(pid, 0)\n"
        "print('child ok' if verify(s.public_key(), child, b'child') else 'child failed')\n"
        "print('parent ok' if verify(s.public_key(), s.sign(b'again'), b'again') else 'no')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["child", "ok", "parent", "ok"], result.stdout + result.stderr


def test_configured_through_the_backend_registry(
    softhsm_backend: Pkcs11Backend, settings: Settings
) -> None:
    settings.ANCHORAGE_KEY_BACKENDS = {
        "default": {"BACKEND": "pki.crypto.backends.software.SoftwareBackend"},
        "hsm": {
            "BACKEND": "pki.crypto.backends.pkcs11.Pkcs11Backend",
            "OPTIONS": {"module": SOFTHSM_MODULE, "token": SOFTHSM_TOKEN, "pin": SOFTHSM_PIN},
        },
    }
    backends.reset()
    try:
        backend = backends.get_backend("hsm")
        assert isinstance(backend, Pkcs11Backend) and backend.alias == "hsm"
        reference = backend.generate(KeyAlgorithm.EC_P384, "registry").reference
        signer = backends.get_signer("hsm", reference)
        assert verify(signer.public_key(), signer.sign(b"registry"), b"registry")
    finally:
        backends.reset()
