"""Writing audit events (and their outbox messages) inside the caller's transaction."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from audit.chain import GENESIS, event_hash
from audit.models import AuditEvent, ChainHead, OutboxMessage

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from pki.models import Domain


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
    """Append an event to the chain, and (with `publish`) an outbox message for it.

    Must run inside the transaction that makes the change: the event and the change commit
    or roll back together. The chain head is locked until that commit, so call this late in
    the transaction to keep the serialised part short.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record() must run inside the change's transaction")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    # Round-trip through JSON so what is hashed is exactly what the database returns.
    clean = json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder))
    user = actor if isinstance(actor, User) else None
    actor_name = user.get_username() if user is not None else ""
    domain_slug = domain.slug if domain is not None else ""

    head = _locked_head()
    now = timezone.now()
    seq = head.seq + 1
    digest = event_hash(
        seq=seq,
        time=now,
        actor_id=user.pk if user is not None else None,
        actor_name=actor_name,
        domain_slug=domain_slug,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=clean,
        prev_hash=head.hash,
    )
    event = AuditEvent.objects.create(
        seq=seq,
        time=now,
        actor=user,
        actor_name=actor_name,
        domain=domain,
        domain_slug=domain_slug,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=clean,
        prev_hash=head.hash,
        hash=digest,
    )
    ChainHead.objects.filter(pk=1).update(seq=seq, hash=digest)
    if publish:
        publish_message(
            action,
            {
                "event": seq,
                "action": action,
                "time": now.isoformat(),
                "actor": actor_name,
                "domain": domain_slug,
                "object_type": object_type,
                "object_id": object_id,
                "details": clean,
            },
            domain_slug=domain_slug,
        )
    return event


def publish_message(topic: str, payload: dict[str, Any], *, domain_slug: str = "") -> OutboxMessage:
    """Write an outbox message in the caller's transaction and wake the relay on commit."""
    message = OutboxMessage.objects.create(topic=topic, payload=payload, domain_slug=domain_slug)
    from audit.tasks import wake_relay

    transaction.on_commit(wake_relay)
    return message


def _locked_head() -> ChainHead:
    head = ChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        ChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS})
        head = ChainHead.objects.select_for_update().get(pk=1)
    return head
