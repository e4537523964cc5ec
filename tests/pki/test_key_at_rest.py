"""No CA key in plaintext at rest.

CA keys of every origin (a local PKI, a ceremony-made root, an imported CA, and an import
still waiting for its quorum) are exported through the key backend, and every table and
every file under the data directory is scanned for them: the PKCS#8 DER, its PEM body and
base64, hex, the traditional (PKCS#1 / SEC1) encodings, and the raw private numbers. The
test commits (transactional), so what is scanned is what the database really holds.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.apps import apps
from django.conf import settings
from django.db import connection

from pki.crypto.backends import get_backend
from pki.crypto.keys import KeyAlgorithm
from pki.models import Ceremony, CertificateAuthority
from pki.services import hierarchy, profiles
from pki.services.issuance import IssueRequest, issue
from tests.pki.helpers import TLS_SERVER, import_secret, make_people

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class Needle:
    what: str
    data: bytes


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def needles_for(label: str, key: Any) -> list[Needle]:
    """Every form of `key` that would mean it sits in plaintext somewhere."""
    pkcs8_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    traditional_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    out: list[Needle] = []
    for name, der in (("pkcs8", pkcs8_der), ("traditional", traditional_der)):
        b64 = base64.b64encode(der)
        out += [
            Needle(f"{label} {name} DER", der),
            Needle(f"{label} {name} base64 of DER", b64),
            Needle(f"{label} {name} base64url of DER", base64.urlsafe_b64encode(der)),
            Needle(f"{label} {name} hex of DER", der.hex().encode()),
            Needle(f"{label} {name} hex of DER (upper)", der.hex().upper().encode()),
            # the first full line of the PEM body: any PEM copy of the key contains it
            Needle(f"{label} {name} PEM body line", b64[:64]),
        ]
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    body = b"".join(pem.splitlines()[1:-1])
    out.append(Needle(f"{label} PEM body", body))
    out.append(Needle(f"{label} PEM", pem))
    numbers = key.private_numbers()
    secrets = (
        {"private scalar": numbers.private_value}
        if isinstance(key, ec.EllipticCurvePrivateKey)
        else {"private exponent": numbers.d, "prime p": numbers.p, "prime q": numbers.q}
    )
    for name, value in secrets.items():
        raw = _int_bytes(value)
        out += [
            Needle(f"{label} {name} bytes", raw),
            Needle(f"{label} {name} hex", raw.hex().encode()),
            Needle(f"{label} {name} base64", base64.b64encode(raw)),
        ]
    return out


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, dict | list):
        return json.dumps(value).encode() + str(value).encode()
    return str(value).encode()


def orm_values() -> Iterator[tuple[str, bytes]]:
    """(model.field#pk, value) for every field of every row of every model."""
    for model in apps.get_models(include_auto_created=True):
        fields = [f for f in model._meta.concrete_fields]
        for obj in model._base_manager.all().iterator():
            for field in fields:
                where = f"{model._meta.label}.{field.name}#{obj.pk}"
                yield where, _as_bytes(field.value_from_object(obj))


def sql_values() -> Iterator[tuple[str, bytes]]:
    """(table.column#row, value) for every cell of every table, models or not."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608 (names from introspection)
            columns = [c[0] for c in cursor.description]
            for n, row in enumerate(cursor.fetchall()):
                for column, value in zip(columns, row, strict=True):
                    yield f"{table}.{column}#{n}", _as_bytes(value)


def file_values() -> Iterator[tuple[str, bytes]]:
    for path in sorted(Path(settings.DATA_DIR).rglob("*")):
        try:
            if path.is_file():
                yield str(path), path.read_bytes()
        except (FileNotFoundError, PermissionError):  # a cache entry that just expired
            continue


def find(needles: list[Needle], haystacks: Iterator[tuple[str, bytes]]) -> list[str]:
    hits = []
    for where, blob in haystacks:
        for needle in needles:
            if needle.data in blob:
                hits.append(f"{needle.what} in {where}")
    return hits


def test_no_ca_key_in_plaintext_at_rest(domain, make_user, make_csr):
    people = make_people(make_user, domain)
    root, issuing = hierarchy.create_local_pki(domain, KeyAlgorithm.EC_P256)
    ceremony_root = people.run(
        Ceremony.Operation.CREATE_ROOT,
        {"slug": "alpha-ceremony-root", "algorithm": KeyAlgorithm.RSA_2048.value},
    )
    imported_key = rsa.generate_private_key(65537, 2048)
    people.run(
        Ceremony.Operation.IMPORT, {"slug": "alpha-imported"}, secret=import_secret(imported_key)
    )
    pending_key = ec.generate_private_key(ec.SECP384R1())
    pending = people.start(
        Ceremony.Operation.IMPORT, {"slug": "alpha-pending"}, secret=import_secret(pending_key)
    )
    # a certificate too, so every table the issuance path writes has a row
    profiles.save_profile(domain, "tls-server", TLS_SERVER, issuing)
    issue(
        IssueRequest(
            domain=domain,
            profile="tls-server",
            csr=make_csr(),
            protocol="api",
            user=people.operator,
        )
    )

    backend = get_backend("default")
    cas = {ca.slug: ca for ca in CertificateAuthority.objects.all()}
    assert set(cas) == {
        root.slug,
        issuing.slug,
        ceremony_root.result["ca"],
        "alpha-imported",
    }
    needles: list[Needle] = []
    for slug, ca in cas.items():
        assert ca.key_backend == "default" and ca.key_ref.startswith("sealed:")
        key = serialization.load_der_private_key(backend.export_private_key(ca.key_ref), None)
        needles += needles_for(f"CA {slug}", key)
    exported = serialization.load_der_private_key(
        backend.export_private_key(cas["alpha-imported"].key_ref), None
    )
    assert isinstance(exported, rsa.RSAPrivateKey)
    assert exported.private_numbers() == imported_key.private_numbers()
    needles += needles_for("pending import", pending_key)
    sealed = Ceremony.objects.get(pk=pending.pk).sealed_secret
    assert sealed is not None
    assert bytes(sealed)  # sealed, still waiting

    # Positive control: the scan does find what is stored in the clear (a CA certificate).
    control = [Needle("root certificate", bytes(root.certificate))]
    assert find(control, orm_values())
    assert find(control, sql_values())
    db_name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and db_name.startswith(str(settings.DATA_DIR)):
        assert find(control, file_values()), "the scan did not see the SQLite file"

    assert find(needles, orm_values()) == []
    assert find(needles, sql_values()) == []
    assert find(needles, file_values()) == []
