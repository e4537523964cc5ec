"""The audit log: append-only, hash-chained, and `manage.py audit_verify` finds tampering.

Tampering bypasses the application on purpose (raw SQL). On PostgreSQL a trigger refuses
UPDATE and DELETE on audit events, so the tests disable it first, as only the table's
owner could, and enable it again.
"""

from __future__ import annotations

import io
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit.chain import GENESIS, event_hash, seal, unsealed, verify
from audit.models import AuditEvent, ChainHead
from audit.services import record

TRIGGER = "audit_event_append_only"


def record_events(n: int, domain=None, actor=None) -> list[AuditEvent]:
    """Record n events in one transaction, then seal them into the chain as the relay does."""
    with transaction.atomic():
        events = [
            record(
                f"test.event.{i % 3}",
                actor=actor,
                domain=domain,
                object_type="test.thing",
                object_id=str(i),
                details={"i": i, "name": "défi ✓", "nested": {"b": [1, 2.5, None], "a": True}},
            )
            for i in range(n)
        ]
    seal()
    return list(AuditEvent.objects.filter(pk__in=[e.pk for e in events]).order_by("seq"))


def seq_of(event: AuditEvent) -> int:
    assert event.seq is not None, "not sealed"
    return event.seq


def audit_verify(*args: str) -> str:
    out = io.StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def broken_at() -> str:
    with pytest.raises(CommandError) as exc:
        audit_verify()
    return str(exc.value)


@contextmanager
def tampering() -> Iterator:
    """A raw cursor that may edit and delete audit events (the trigger off on PostgreSQL)."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {TRIGGER}")
        yield cursor
        if postgres:
            cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {TRIGGER}")
    if postgres:
        assert_append_only_in_the_database()


def assert_append_only_in_the_database() -> None:
    first = AuditEvent.objects.order_by("seq").first()
    assert first is not None
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=first.pk).update(action="test.forged")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=first.pk).delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_auditevent")


def forged(seq: int, prev_hash: str, **fields) -> AuditEvent:
    """An event an attacker who knows the hashing scheme writes, linked to `prev_hash`."""
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None
    values = {
        "time": last.time + timedelta(seconds=1),
        "actor_id": None,
        "actor_name": "mallory",
        "domain_slug": "",
        "action": "test.forged",
        "object_type": "",
        "object_id": "",
        "details": {},
        **fields,
    }
    digest = event_hash(seq=seq, prev_hash=prev_hash, **values)
    # An INSERT is allowed (the log is append-only); save() on a new row does not refuse.
    return AuditEvent.objects.create(seq=seq, prev_hash=prev_hash, hash=digest, **values)


@pytest.mark.django_db
def test_the_chain_verifies_after_many_events(domain, make_user):
    alice = make_user("alice")
    record_events(120, domain=domain, actor=alice)
    record_events(90)
    with pytest.raises(RuntimeError), transaction.atomic():
        record_events(5)  # rolled back: neither the events nor the head move
        raise RuntimeError
    record_events(40, domain=domain)

    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert ChainHead.objects.get().seq == len(events) >= 250

    assert verify(batch_size=7) == (len(events), None)
    assert f"audit chain intact: {len(events)} events" in audit_verify()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "test.harmless"),
        ("actor_name", "someone-else"),
        ("object_id", "42"),
        ("details", json.dumps({"i": 0, "name": "forged"})),
    ],
)
def test_audit_verify_names_the_first_edited_row(column, value):
    events = record_events(30)
    target = seq_of(events[11])
    with tampering() as cursor:
        cursor.execute(
            f"UPDATE audit_auditevent SET {column} = %s WHERE seq IN (%s, %s)",  # noqa: S608
            [value, target, target + 5],
        )

    message = broken_at()
    assert f"event #{target}: contents do not match its hash (edited)" in message
    assert verify()[0] == target - 1


@pytest.mark.django_db
def test_audit_verify_names_a_deleted_row_in_the_middle():
    events = record_events(30)
    target = seq_of(events[17])
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE seq = %s", [target])

    assert f"event #{target}: missing (deleted?); next stored is #{target + 1}" in broken_at()


@pytest.mark.django_db
@pytest.mark.parametrize("how_many", [1, 3])
def test_audit_verify_names_a_deleted_row_at_the_tail(how_many):
    events = record_events(30)
    first_gone = seq_of(events[-how_many])
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE seq >= %s", [first_gone])

    message = broken_at()
    assert f"event #{first_gone}: missing: the chain head says #{seq_of(events[-1])}" in message


@pytest.mark.django_db
def test_audit_verify_names_a_row_inserted_at_the_tail_with_a_forged_link():
    events = record_events(10)
    forged(seq_of(events[-1]) + 1, prev_hash="f" * 64)

    assert f"event #{seq_of(events[-1]) + 1}: does not link" in broken_at()


@pytest.mark.django_db
def test_audit_verify_names_a_well_chained_row_inserted_at_the_tail():
    events = record_events(10)
    # Linked and hashed correctly; only the chain head knows the log ended before it.
    forged(seq_of(events[-1]) + 1, prev_hash=events[-1].hash)

    message = broken_at()
    assert f"event #{seq_of(events[-1]) + 1}: " in message
    assert "inserted" in message


@pytest.mark.django_db
def test_audit_verify_names_a_well_chained_row_inserted_in_the_middle():
    events = record_events(20)
    at = seq_of(events[8])
    # Make room: every later row moves up one seq; then the forged row takes `at`.
    with tampering() as cursor:
        cursor.execute("UPDATE audit_auditevent SET seq = -seq - 1 WHERE seq >= %s", [at])
        cursor.execute("UPDATE audit_auditevent SET seq = -seq WHERE seq < 0")
    forged(at, prev_hash=events[7].hash)

    message = broken_at()
    assert f"event #{at}: " in message
    assert "inserted" in message


@pytest.mark.django_db
def test_the_database_refuses_update_and_delete_of_audit_events():
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    record_events(3)
    assert_append_only_in_the_database()
    assert verify() == (AuditEvent.objects.count(), None)

    # Sealing is the one update it allows, and only as sealing: a sealed row cannot be
    # re-sealed, and an unsealed one cannot have its contents changed on the way.
    sealed = AuditEvent.objects.order_by("seq").first()
    assert sealed is not None
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=sealed.pk).update(seq=999, hash="0" * 64)
    with transaction.atomic():
        pending = record("test.event.pending")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=pending.pk).update(seq=999, action="test.forged")
    assert seal() == 1
    assert verify() == (AuditEvent.objects.count(), None)


@pytest.mark.django_db
def test_audit_verify_seals_what_is_committed_and_reports_what_is_not_sealed():
    record_events(2)
    with transaction.atomic():
        record("test.event.late")
    assert "(1 newer events not sealed yet)" in audit_verify("--no-seal")
    assert unsealed() == 1
    assert "audit chain intact: 3 events\n" in audit_verify()
    assert unsealed() == 0


@pytest.mark.django_db
def test_saving_or_deleting_an_event_through_the_model_raises():
    event = record_events(1)[0]
    event.action = "test.forged"
    with pytest.raises(RuntimeError, match="append-only"):
        event.save()
    with pytest.raises(RuntimeError, match="append-only"):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event.0"
    assert verify()[1] is None


@pytest.mark.django_db(transaction=True)
def test_record_outside_a_transaction_raises():
    with pytest.raises(RuntimeError, match="inside the change's transaction"):
        record("test.event.loose")
    assert not AuditEvent.objects.filter(action="test.event.loose").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_sealers_keep_one_unbroken_chain():
    """Writers record side by side (nothing locks them) and each seals after its commit, as
    the relay does: every event is sealed exactly once, into one unbroken chain."""
    writers, per_writer = 4, 15
    barrier = threading.Barrier(writers)
    errors: list[Exception] = []

    def write() -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(per_writer):
                with transaction.atomic():
                    record("test.event.concurrent")
                seal(batch_size=3)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    assert AuditEvent.objects.filter(action="test.event.concurrent").count() == writers * per_writer
    assert unsealed() == 0
    assert verify() == (AuditEvent.objects.count(), None)


@pytest.mark.django_db
def test_audit_verify_names_a_replaced_last_row():
    events = record_events(10)
    with tampering() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE seq = %s", [seq_of(events[-1])])
    forged(seq_of(events[-1]), prev_hash=events[-2].hash)

    assert f"event #{seq_of(events[-1])}: the chain head does not match" in broken_at()
