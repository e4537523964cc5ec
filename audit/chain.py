"""The hash chain: how an event is hashed, and how the stored chain is checked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from audit.models import AuditEvent, ChainHead

GENESIS = "0" * 64


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(
    *,
    seq: int,
    time: datetime,
    actor_id: int | None,
    actor_name: str,
    domain_slug: str,
    action: str,
    object_type: str,
    object_id: str,
    details: Any,
    prev_hash: str,
) -> str:
    body = canonical(
        {
            "seq": seq,
            "time": time.isoformat(),
            "actor_id": actor_id,
            "actor": actor_name,
            "domain": domain_slug,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": details,
        }
    )
    return hashlib.sha256(prev_hash.encode() + body).hexdigest()


def hash_of(event: AuditEvent) -> str:
    if event.seq is None:
        raise ValueError("an unsealed event has no hash")
    return event_hash(
        seq=event.seq,
        time=event.time,
        actor_id=event.actor_id,
        actor_name=event.actor_name,
        domain_slug=event.domain_slug,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        details=event.details,
        prev_hash=event.prev_hash,
    )


def seal(batch_size: int = 2000) -> int:
    """Give committed, unsealed events their place in the chain; return how many.

    Runs after the events' own transactions committed (from the relay task, and before
    audit_verify). The head's row lock serialises sealers; a sealer reads the queue only
    once it holds the lock, so it sees everything committed before it and no event is
    sealed twice. Chain order is the order of sealing: by id within a batch.
    """
    sealed = 0
    while True:
        with transaction.atomic():
            head = ChainHead.objects.select_for_update().filter(pk=1).first()
            if head is None:  # the migration makes it; a flushed test database may not have it
                ChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS})
                head = ChainHead.objects.select_for_update().get(pk=1)
            batch = list(AuditEvent.objects.filter(seq__isnull=True).order_by("id")[:batch_size])
            for event in batch:
                event.seq, event.prev_hash = head.seq + 1, head.hash
                event.hash = hash_of(event)
                head.seq, head.hash = event.seq, event.hash
            if batch:
                _write_seals(batch)
                head.save(update_fields=["seq", "hash"])
        sealed += len(batch)
        if len(batch) < batch_size:
            return sealed


def _write_seals(batch: list[AuditEvent]) -> None:
    if connection.vendor != "postgresql":
        AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"], batch_size=100)
        return
    # One UPDATE … FROM (VALUES …): bulk_update's CASE WHEN per row is quadratic in the batch.
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(batch))
    params: list[int | str | None] = []
    for e in batch:
        params += [e.pk, e.seq, e.prev_hash, e.hash]
    sql = (
        f"UPDATE {AuditEvent._meta.db_table} AS e "  # noqa: S608 (model's table; values bound)
        "SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash "
        f"FROM (VALUES {rows}) AS v(id, seq, prev_hash, hash) WHERE e.id = v.id::bigint"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def unsealed() -> int:
    return AuditEvent.objects.filter(seq__isnull=True).count()


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"event #{self.seq}: {self.reason}"


def verify(batch_size: int = 5000) -> tuple[int, Break | None]:
    """Walk the chain in order; return the number of events checked and the first break.

    The events and the chain head are read from one snapshot, so seals committed while
    the walk runs are not mistaken for tampering. Events not yet sealed are not in the
    chain and not checked (see seal()).
    """
    if transaction.get_connection().in_atomic_block:
        return _walk(batch_size)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _walk(batch_size)


def _walk(batch_size: int) -> tuple[int, Break | None]:
    expected_seq, expected_prev, checked = 1, GENESIS, 0
    # The hash one link further back: a row linking to it skips the row before it, which is
    # then one that was inserted (well chained to its predecessor) with the rest renumbered.
    skipped_prev: str | None = None
    for event in _in_order(batch_size):
        assert event.seq is not None  # _in_order yields sealed events only
        if event.seq > expected_seq:
            return checked, Break(expected_seq, f"missing (deleted?); next stored is #{event.seq}")
        if event.prev_hash != expected_prev:
            if skipped_prev is not None and event.prev_hash == skipped_prev:
                return checked - 1, Break(
                    event.seq - 1, f"inserted: #{event.seq} links past it to its predecessor"
                )
            return checked, Break(event.seq, "does not link to its predecessor (inserted?)")
        if hash_of(event) != event.hash:
            return checked, Break(event.seq, "contents do not match its hash (edited)")
        skipped_prev = expected_prev
        expected_seq, expected_prev, checked = event.seq + 1, event.hash, checked + 1
    head = ChainHead.objects.filter(pk=1).first()
    last_seq = expected_seq - 1
    if head is not None and (head.seq != last_seq or (head.seq and head.hash != expected_prev)):
        if head.seq > last_seq:
            return checked, Break(last_seq + 1, f"missing: the chain head says #{head.seq}")
        if head.seq < last_seq:
            # Well chained, but written behind the engine's back: the head never moved.
            return head.seq, Break(
                head.seq + 1, f"inserted: after the chain head's last event #{head.seq}"
            )
        return checked - 1, Break(head.seq, "the chain head does not match the last event")
    return checked, None


def _in_order(batch_size: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        batch = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq")[:batch_size])
        if not batch:
            return
        yield from batch
        last = batch[-1].seq or last
