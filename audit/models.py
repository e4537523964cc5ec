"""The audit log (append-only, hash-chained) and the transactional outbox."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One state change, written in the change's own transaction.

    The chain is sealed just after commit (audit.chain.seal): `seq` gives the event its
    place and `hash` = SHA-256(prev_hash + canonical JSON of the fields), so an edited,
    inserted or deleted row breaks the chain (audit.chain.verify). Until sealed, `seq` is
    null and the hashes are empty.
    """

    seq = models.BigIntegerField(unique=True, null=True, blank=True, editable=False)
    time = models.DateTimeField(db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    # Names are copied so the chain still verifies after a user or domain is deleted.
    actor_name = models.CharField(max_length=150, blank=True, editable=False)
    domain = models.ForeignKey(
        "pki.Domain",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    domain_slug = models.CharField(max_length=63, blank=True, db_index=True, editable=False)
    action = models.CharField(max_length=100, db_index=True, editable=False)
    object_type = models.CharField(max_length=100, blank=True, editable=False)
    object_id = models.CharField(max_length=100, blank=True, db_index=True, editable=False)
    details = models.JSONField(default=dict, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            # The sealer's queue: only unsealed rows are in it.
            models.Index(
                fields=["id"], condition=models.Q(seq__isnull=True), name="audit_unsealed"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq or '…'} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise RuntimeError("audit events are append-only (sealing is audit.chain.seal)")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise RuntimeError("audit events are append-only")


class ChainHead(models.Model):
    """The single row that serialises sealing: the sealer locks it, reads the last seq and
    hash, seals, and moves it on. It also pins the tail, so deleting the newest rows shows."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"head #{self.seq}"


class OutboxMessage(models.Model):
    """A message written in the same transaction as the change it reports; the relay
    (audit.relay) fans it out to webhook endpoints at least once."""

    topic = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    domain_slug = models.CharField(max_length=63, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"


class WebhookEndpoint(models.Model):
    """A receiver of outbox messages, signed with HMAC-SHA256 over the body."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    # Sealed with the KEK (pki.crypto.sealing); never stored in the clear.
    sealed_secret = models.BinaryField(editable=False)
    topics = models.JSONField(
        default=list, blank=True, help_text="topic prefixes to deliver; empty means all"
    )
    domain = models.ForeignKey(
        "pki.Domain",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text="only this domain's messages; empty means all domains",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def wants(self, message: OutboxMessage) -> bool:
        if self.domain is not None and message.domain_slug != self.domain.slug:
            return False
        return not self.topics or any(message.topic.startswith(t) for t in self.topics)


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed", "failed (gave up)"

    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "endpoint"], name="one_delivery_per_endpoint"
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.message} → {self.endpoint} ({self.state})"
