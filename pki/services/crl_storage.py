"""Moving a CA's CRL entries and CRLs between PostgreSQL and Python fast enough for a million
revocations (bench/crl.py); the portable ORM path everywhere else (SQLite).

Django binds parameters client-side and reads bytea as hex text: a 50 MB CRL (a million
entries) went to the server as a 100 MB escaped literal (4 s) and its entries came back as a
million hex strings (3.4 s). On PostgreSQL we use psycopg's own cursor on Django's connection
(same transaction) with binary transfer, and let the server join the entries (string_agg).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import connection

from pki.models import CertificateAuthority, Crl, Revocation

_CHUNK = 10_000


def complete_entries(
    ca: CertificateAuthority, previous_at: datetime | None
) -> tuple[list[bytes], int]:
    """The encoded entries of every revocation in force, joined, and how many there are.

    Not those whose certificate had expired when the previous complete CRL was issued: that
    CRL listed them once past expiry (RFC 5280 §5.1.2.6 keeps an entry until it appeared on
    one CRL after the certificate's validity ended)."""
    if connection.vendor == "postgresql":
        return _joined_by_postgres(ca, previous_at)
    rows = Revocation.objects.filter(ca=ca, released_at__isnull=True)
    if previous_at is not None:
        rows = rows.filter(not_after__gte=previous_at)
    values = rows.values_list("entry", flat=True).iterator(chunk_size=_CHUNK)
    return _chunks(bytes(v) for v in values)


def store(crl: Crl, der: bytes) -> None:
    """Write the CRL's DER into its row (created without it)."""
    if connection.vendor == "postgresql":
        sql = f"UPDATE {Crl._meta.db_table} SET der = %b WHERE id = %s"  # noqa: S608
        with _cursor() as cursor:
            cursor.execute(sql, [der, crl.pk])
    else:
        Crl.objects.filter(pk=crl.pk).update(der=der)
    crl.der = der


def load(crl: Crl) -> bytes:
    """The CRL's DER (deferred when the row was read)."""
    if connection.vendor == "postgresql":
        with _cursor() as cursor:
            sql = f"SELECT der FROM {Crl._meta.db_table} WHERE id = %s"  # noqa: S608
            row = cursor.execute(sql, [crl.pk], binary=True).fetchone()
        return bytes(row[0]) if row else b""
    return bytes(crl.der)


def _joined_by_postgres(
    ca: CertificateAuthority, previous_at: datetime | None
) -> tuple[list[bytes], int]:
    sql = (
        f"SELECT string_agg(entry, ''::bytea), count(*) FROM {Revocation._meta.db_table} "  # noqa: S608
        "WHERE ca_id = %s AND released_at IS NULL"
    )
    params: list[Any] = [ca.pk]
    if previous_at is not None:
        sql += " AND not_after >= %s"
        params.append(previous_at)
    with _cursor() as cursor:
        joined, count = cursor.execute(sql, params, binary=True).fetchone()
    return ([bytes(joined)] if joined else []), int(count)


def _cursor() -> Any:
    """psycopg's server-binding cursor on Django's connection: parameters go out, and with
    binary=True results come back, as bytes rather than escaped text."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _chunks(entries: Iterator[bytes]) -> tuple[list[bytes], int]:
    """Entries joined a chunk at a time: a million small objects never live at once."""
    out, count = [], 0
    while chunk := list(islice(entries, _CHUNK)):
        out.append(b"".join(chunk))
        count += len(chunk)
    return out, count
