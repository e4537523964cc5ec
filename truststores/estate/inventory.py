"""The inventory of trust-store consumers: create, update, delete, report tokens, and CSV
import / export. Writes need estate.manage in the consumer's domain; every one is audited.

CSV import is all or nothing: every row is checked first and the errors of every bad row
come back together (line numbers as a spreadsheet shows them); only a clean file is applied,
as an upsert by name, so importing the same file twice changes nothing the second time."""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.roles import Perm
from audit.services import record
from config.errors import Conflict
from pki.models import Domain
from truststores.estate.catalog import require
from truststores.estate.models import (
    ClientBase,
    Consumer,
    ConsumerCategory,
    ConsumerKind,
    Distribution,
    TrustList,
)

TOKEN_PREFIX = "ancc_"  # noqa: S105 (a label, not a secret)
CSV_COLUMNS = [
    "name",
    "kind",
    "category",
    "distribution",
    "owner_team",
    "client_base",
    "trust_list",
    "description",
]
EDITABLE = [c for c in CSV_COLUMNS if c != "trust_list"] + ["trust_list"]
MAX_CSV_ROWS = 50_000
MAX_CSV_BYTES = 8 * 1024 * 1024
_CHOICES: dict[str, list[str]] = {
    "kind": ConsumerKind.values,
    "category": ConsumerCategory.values,
    "distribution": Distribution.values,
    "client_base": ClientBase.values,
}
_LENGTHS = {"name": 200, "owner_team": 200, "description": 4000}


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clean_fields(
    domain: Domain, data: dict[str, Any], lists: dict[str, TrustList] | None = None
) -> dict[str, Any]:
    """Checked consumer fields from `data` (only the keys present); `trust_list` is a slug
    of the domain's lists, or empty for none. Raises ValidationError keyed by field."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name not in EDITABLE:
            errors[name] = "unknown field"
            continue
        text = "" if value is None else str(value).strip()
        if name in _CHOICES:
            if text not in _CHOICES[name]:
                errors[name] = f"one of {', '.join(_CHOICES[name])}"
                continue
        elif name == "trust_list":
            if text:
                found = lists.get(text) if lists is not None else _list(domain, text)
                if found is None:
                    errors[name] = f"no trust list {text!r} in domain {domain.slug}"
                    continue
                out[name] = found
            else:
                out[name] = None
            continue
        elif name in _LENGTHS and len(text) > _LENGTHS[name]:
            errors[name] = f"at most {_LENGTHS[name]} characters"
            continue
        if name == "name" and not text:
            errors[name] = "a consumer needs a name"
            continue
        out[name] = text
    if errors:
        # Each message names its field: the API flattens them into one list.
        raise ValidationError({k: f"{k}: {v}" for k, v in errors.items()})
    return out


def _list(domain: Domain, slug: str) -> TrustList | None:
    return TrustList.objects.filter(domain=domain, slug=slug).first()


@transaction.atomic
def create_consumer(domain: Domain, user: User, data: dict[str, Any]) -> Consumer:
    require(user, Perm.ESTATE_MANAGE, domain)
    fields = clean_fields(domain, data)
    missing = [n for n in ("name", "kind", "category", "distribution") if n not in fields]
    if missing:
        raise ValidationError({name: f"{name}: required" for name in missing})
    try:
        with transaction.atomic():
            consumer = Consumer.objects.create(domain=domain, **fields)
    except IntegrityError:
        raise Conflict(f"a consumer named {fields['name']!r} exists", "exists") from None
    record(
        "estate.consumer.created",
        actor=user,
        domain=domain,
        obj=consumer,
        details=_describe(fields),
    )
    return consumer


@transaction.atomic
def update_consumer(consumer: Consumer, user: User, data: dict[str, Any]) -> Consumer:
    require(user, Perm.ESTATE_MANAGE, consumer.domain)
    fields = clean_fields(consumer.domain, data)
    changed = {k: v for k, v in fields.items() if getattr(consumer, k) != v}
    if not changed:
        return consumer
    for name, value in changed.items():
        setattr(consumer, name, value)
    try:
        with transaction.atomic():
            consumer.save(update_fields=[*changed, "updated_at"])
    except IntegrityError:
        raise Conflict(f"a consumer named {consumer.name!r} exists", "exists") from None
    record(
        "estate.consumer.changed",
        actor=user,
        domain=consumer.domain,
        obj=consumer,
        details=_describe(changed),
    )
    return consumer


@transaction.atomic
def delete_consumer(consumer: Consumer, user: User) -> None:
    require(user, Perm.ESTATE_MANAGE, consumer.domain)
    record(
        "estate.consumer.deleted",
        actor=user,
        domain=consumer.domain,
        obj=consumer,
        details={"name": consumer.name},
    )
    consumer.delete()


@transaction.atomic
def issue_token(consumer: Consumer, user: User) -> str:
    """A new report token for the consumer, returned once; any earlier token stops working."""
    require(user, Perm.ESTATE_MANAGE, consumer.domain)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    consumer.token_digest = token_digest(token)
    consumer.token_prefix = token[:12]
    consumer.token_issued_at = timezone.now()
    consumer.save(update_fields=["token_digest", "token_prefix", "token_issued_at", "updated_at"])
    record(
        "estate.consumer.token_issued",
        actor=user,
        domain=consumer.domain,
        obj=consumer,
        details={"prefix": consumer.token_prefix},
    )
    return token


def _describe(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.slug if isinstance(v, TrustList) else v) for k, v in fields.items()}


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0


def import_csv(domain: Domain, user: User, text: str) -> ImportResult:
    """Upsert consumers by name from CSV with a header row (CSV_COLUMNS; `name`, `kind`,
    `category` and `distribution` required, the others optional)."""
    require(user, Perm.ESTATE_MANAGE, domain)
    rows = _read_rows(text)
    lists = {t.slug: t for t in TrustList.objects.filter(domain=domain)}
    errors: list[str] = []
    cleaned: dict[str, dict[str, Any]] = {}
    for line, row in rows:
        try:
            fields = clean_fields(domain, row, lists)
        except ValidationError as exc:
            errors += [f"line {line}: {message}" for message in exc.messages]
            continue
        if fields["name"] in cleaned:
            errors.append(f"line {line}: name: {fields['name']!r} appears twice")
            continue
        cleaned[fields["name"]] = fields
    if errors:
        raise ValidationError(errors)
    return _upsert(domain, user, cleaned)


@transaction.atomic
def _upsert(domain: Domain, user: User, cleaned: dict[str, dict[str, Any]]) -> ImportResult:
    existing = {
        c.name: c
        for c in Consumer.objects.select_for_update().filter(domain=domain, name__in=cleaned)
    }
    result = ImportResult()
    new: list[Consumer] = []
    touched: list[Consumer] = []
    columns: set[str] = set()
    for name, fields in cleaned.items():
        consumer = existing.get(name)
        if consumer is None:
            new.append(Consumer(domain=domain, **fields))
            result.created.append(name)
            continue
        changed = {k: v for k, v in fields.items() if getattr(consumer, k) != v}
        if not changed:
            result.unchanged += 1
            continue
        for key, value in changed.items():
            setattr(consumer, key, value)
        columns |= set(changed)
        touched.append(consumer)
        result.updated.append(name)
    Consumer.objects.bulk_create(new, batch_size=1000)
    if touched:
        now = timezone.now()
        for consumer in touched:
            consumer.updated_at = now
        Consumer.objects.bulk_update(touched, [*sorted(columns), "updated_at"], batch_size=1000)
    record(
        "estate.consumer.imported",
        actor=user,
        domain=domain,
        details={
            "created": len(result.created),
            "updated": len(result.updated),
            "unchanged": result.unchanged,
            "names": (result.created + result.updated)[:200],
        },
    )
    return result


def decode_csv(data: bytes) -> str:
    """An uploaded file as text: UTF-8 (a byte-order mark is dropped), at most
    MAX_CSV_BYTES; anything else is refused rather than guessed at."""
    if len(data) > MAX_CSV_BYTES:
        raise ValidationError(f"the CSV is larger than {MAX_CSV_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"the CSV is not UTF-8 text (byte {exc.start}): save it as UTF-8"
        ) from None


def _read_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    if "\x00" in text:
        raise ValidationError("the CSV holds a NUL character")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    if not header:
        raise ValidationError("the CSV is empty: it needs a header row")
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        raise ValidationError("the CSV's columns are separated by commas, not ';', tab or '|'")
    if not set(header) & set(CSV_COLUMNS):
        first = (
            f"the first line must be the header row: {','.join(CSV_COLUMNS)} "
            "(name, kind, category and distribution required)"
        )
        raise ValidationError([first, *(f"unknown column {h!r}" for h in header[:20])])
    unknown = [h for h in header if h not in CSV_COLUMNS]
    required = [h for h in ("name", "kind", "category", "distribution") if h not in header]
    if unknown or required:
        problems = [f"unknown column {h!r}" for h in unknown]
        problems += [f"missing column {h!r}" for h in required]
        raise ValidationError(problems)
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for row in reader:
            if len(rows) >= MAX_CSV_ROWS:
                raise ValidationError(f"at most {MAX_CSV_ROWS} rows per import")
            if None in row:  # more cells than the header has
                raise ValidationError(f"line {reader.line_num}: more cells than columns")
            if not any((v or "").strip() for v in row.values()):
                continue
            rows.append((reader.line_num, _cells(row)))
    except csv.Error as exc:
        raise ValidationError(f"line {reader.line_num}: not CSV: {exc}") from None
    return rows


def _cells(row: dict[str, str]) -> dict[str, str]:
    cells = {k: _unsafe(v or "") for k, v in row.items()}
    if not cells.get("client_base", "x").strip():
        del cells["client_base"]  # blank: the default (internal), or unchanged on update
    return cells


def export_csv(domain: Domain) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    consumers = Consumer.objects.filter(domain=domain).select_related("trust_list").order_by("name")
    for c in consumers.iterator(chunk_size=2000):
        writer.writerow(
            [
                _safe(c.name),
                c.kind,
                c.category,
                c.distribution,
                _safe(c.owner_team),
                c.client_base,
                c.trust_list.slug if c.trust_list else "",
                _safe(c.description),
            ]
        )
    return out.getvalue()


def _safe(text: str) -> str:
    # A cell a spreadsheet would run as a formula (CSV injection) starts with a quote.
    return "'" + text if text[:1] in _FORMULA else text


def _unsafe(text: str) -> str:
    return text[1:] if text[:1] == "'" and text[1:2] in _FORMULA else text


_FORMULA = ("=", "+", "-", "@")
