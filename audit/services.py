"""Writing audit events (and their outbox messages) inside the caller's transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from audit.models import AuditEvent, OutboxMessage
from audit.tasks import wake_relay

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from pki.models import Domain


@dataclass
class Entry:
    """One event for record_many(): the same fields as record()'s arguments."""

    action: str
    actor: User | AnonymousUser | None = None
    domain: Domain | None = None
    obj: models.Model | None = None
    object_type: str = ""
    object_id: str = ""
    details: dict[str, Any] | None = None
    publish: bool = True


def record(
    action: str,
    *,
    actor: User | AnonymousUser | None = None,
    domain: Domain | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    details: dict[str, Any] | None = None,
    publish: bool = True,
) -> AuditEvent:
    """Write an event, and (with `publish`) an outbox message for it.

    Must run inside the transaction that makes the change: the event and the change commit
    or roll back together. Nothing is locked here, so audited writes run side by side; the
    event joins the hash chain just after commit (audit.chain.seal, woken on commit and run
    by the relay task), which is what keeps the chain from serialising every transaction.
    """
    entry = Entry(action, actor, domain, obj, object_type, object_id, details, publish)
    return record_many([entry])[0]


def record_many(entries: list[Entry]) -> list[AuditEvent]:
    """record() for several events of one change: two INSERTs in all, not two per event."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record() must run inside the change's transaction")
    now = timezone.now()
    events = AuditEvent.objects.bulk_create([_event(entry, now) for entry in entries])
    messages = [
        OutboxMessage(
            topic=event.action, payload=event_payload(event), domain_slug=event.domain_slug
        )
        for entry, event in zip(entries, events, strict=True)
        if entry.publish
    ]
    if messages:
        OutboxMessage.objects.bulk_create(messages)
    transaction.on_commit(wake_relay)
    return events


def _event(entry: Entry, now: datetime) -> AuditEvent:
    object_type, object_id = entry.object_type, entry.object_id
    if entry.obj is not None:
        object_type = object_type or entry.obj._meta.label_lower
        object_id = object_id or str(entry.obj.pk)
    user = entry.actor if isinstance(entry.actor, User) else None
    domain = entry.domain
    return AuditEvent(
        time=now,
        actor=user,
        actor_name=user.get_username() if user is not None else "",
        domain=domain,
        domain_slug=domain.slug if domain is not None else "",
        action=entry.action,
        object_type=object_type,
        object_id=object_id,
        # Round-trip through JSON so what is hashed is exactly what the database returns.
        details=json.loads(json.dumps(entry.details or {}, cls=DjangoJSONEncoder)),
    )


def event_payload(event: AuditEvent) -> dict[str, Any]:
    """What subscribers receive for an audit event (docs/webhooks.md)."""
    return {
        "event": event.pk,
        "action": event.action,
        "time": event.time.isoformat(),
        "actor": event.actor_name,
        "domain": event.domain_slug,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "details": event.details,
    }
