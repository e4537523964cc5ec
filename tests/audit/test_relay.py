"""The transactional outbox and its relay, delivering to a real local webhook receiver."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection, transaction

from audit import relay
from audit.models import AuditEvent, OutboxMessage, WebhookDelivery, WebhookEndpoint
from audit.relay import WEBHOOK_SECRET_PURPOSE, signed_request
from audit.services import record
from audit.webhooks import create_endpoint, signature_valid
from pki.crypto.sealing import SealError, unseal

Delivered = WebhookDelivery.State.DELIVERED


def relay_until_settled(max_runs: int = 500) -> None:
    """Run the relay until no delivery is pending (retries included), a bounded number of times."""
    for _ in range(max_runs):
        relay.relay()
        pending = WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING)
        if not pending.exists() and not OutboxMessage.objects.filter(dispatched_at=None).exists():
            return
        time.sleep(0.02)
    pytest.fail("the relay did not settle")


@pytest.mark.django_db(transaction=True)
def test_the_relay_delivers_exactly_the_committed_events(receiver, domain, settings):
    settings.ANCHORAGE_WEBHOOK_BACKOFF_SECONDS = 0.01
    endpoint, receiver.secret = create_endpoint("receiver", receiver.url)
    receiver.fail_next = 1  # the first request is answered with HTTP 500

    with transaction.atomic():
        first = record("test.relay.first", domain=domain, details={"n": 1})
    with transaction.atomic():
        second = record("test.relay.second", details={"n": 2})
    with pytest.raises(RuntimeError, match="changed my mind"), transaction.atomic():
        record("test.relay.rolled_back", domain=domain)
        raise RuntimeError("changed my mind")

    relay_until_settled()

    messages = {m.topic: m for m in OutboxMessage.objects.all()}
    assert set(messages) == {"test.relay.first", "test.relay.second"}
    assert not AuditEvent.objects.filter(action="test.relay.rolled_back").exists()

    # Every request was signed correctly; nothing of the rolled-back transaction arrived.
    assert receiver.requests and all(r["signature_valid"] for r in receiver.requests)
    assert all(r["topic"] != "test.relay.rolled_back" for r in receiver.requests)
    accepted = receiver.accepted()
    assert Counter(r["message"] for r in accepted) == {m.pk: 1 for m in messages.values()}
    bodies = {r["topic"]: r["body"] for r in accepted}
    assert bodies["test.relay.first"]["payload"]["event"] == first.pk
    assert bodies["test.relay.first"]["payload"]["domain"] == "alpha"
    assert bodies["test.relay.second"]["payload"]["event"] == second.pk
    assert bodies["test.relay.second"]["payload"]["details"] == {"n": 2}

    # The first attempt failed and was retried.
    assert receiver.requests[0]["status"] == 500
    assert receiver.requests[0]["message"] == messages["test.relay.first"].pk
    deliveries = {d.message.topic: d for d in WebhookDelivery.objects.select_related("message")}
    assert set(deliveries) == {"test.relay.first", "test.relay.second"}
    assert all(d.endpoint_id == endpoint.pk and d.state == Delivered for d in deliveries.values())
    assert deliveries["test.relay.first"].attempts == 2
    assert deliveries["test.relay.second"].attempts == 1

    # Running the relay again delivers nothing twice.
    relay.relay()
    assert len(receiver.accepted()) == 2


@pytest.mark.django_db(transaction=True)
def test_the_relay_gives_up_after_the_last_attempt(receiver, settings):
    settings.ANCHORAGE_WEBHOOK_BACKOFF_SECONDS = 0.01
    settings.ANCHORAGE_WEBHOOK_MAX_ATTEMPTS = 3
    _, receiver.secret = create_endpoint("receiver", receiver.url)
    receiver.fail_next = 1000
    with transaction.atomic():
        record("test.relay.doomed")

    relay_until_settled()

    delivery = WebhookDelivery.objects.get()
    assert delivery.state == WebhookDelivery.State.FAILED
    assert delivery.attempts == 3
    assert delivery.last_error == "HTTP 500"
    assert [r["status"] for r in receiver.requests] == [500, 500, 500]


@pytest.mark.django_db(transaction=True)
def test_concurrent_relays_never_deliver_a_row_twice(receiver):
    _, receiver.secret = create_endpoint("receiver", receiver.url)
    receiver.delay = 0.002
    with transaction.atomic():
        for i in range(40):
            record("test.relay.many", details={"i": i})

    relays = 3
    barrier = threading.Barrier(relays)
    runs: list[tuple[int, int, int]] = []
    errors: list[Exception] = []

    def small_relay() -> None:
        # relay.relay() with small batches, so the relays' claims interleave.
        try:
            barrier.wait(timeout=30)
            dispatched = 0
            while n := relay.dispatch(batch_size=5):
                dispatched += n
            runs.append((dispatched, *relay.deliver_due(batch_size=4, max_rounds=50)))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=small_relay) for _ in range(relays)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    assert len(runs) == relays
    assert sum(r[0] for r in runs) == 40  # each message dispatched once
    assert sum(r[1] for r in runs) == 40  # and delivered once
    assert sum(r[2] for r in runs) == 0
    counts = Counter(r["delivery"] for r in receiver.requests)
    assert len(counts) == 40 and set(counts.values()) == {1}, counts
    assert set(WebhookDelivery.objects.values_list("state", "attempts")) == {(Delivered, 1)}


@pytest.mark.django_db
def test_the_webhook_secret_is_sealed_at_rest(domain):
    endpoint, secret = create_endpoint("sealed", "http://127.0.0.1:9/hook", domain=domain)
    assert len(secret) >= 32

    def row_bytes(table: str, where: str, params: list) -> list[bytes]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {table} WHERE {where}", params)  # noqa: S608
            return [
                bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
                for row in cursor.fetchall()
                for v in row
            ]

    stored = row_bytes("audit_webhookendpoint", "id = %s", [endpoint.pk])
    assert stored and not any(secret.encode() in value for value in stored)
    events = row_bytes("audit_auditevent", "action = %s", ["audit.webhook.created"])
    assert events and not any(secret.encode() in value for value in events)

    sealed = WebhookEndpoint.objects.get(pk=endpoint.pk).sealed_secret
    assert unseal(sealed, WEBHOOK_SECRET_PURPOSE) == secret.encode()
    with pytest.raises(SealError):
        unseal(sealed, "some.other.purpose")


@pytest.mark.django_db
def test_a_wrong_signature_is_detected():
    _, secret = create_endpoint("signed", "http://127.0.0.1:9/hook", secret="s" * 40)
    assert secret == "s" * 40
    with transaction.atomic():
        record("test.relay.signed", details={"x": 1})
    relay.dispatch()
    request = signed_request(WebhookDelivery.objects.select_related("message", "endpoint").get())
    body = request.data
    timestamp = request.get_header("X-anchorage-timestamp") or ""
    header = request.get_header("X-anchorage-signature") or ""
    assert isinstance(body, bytes) and header.startswith("sha256=")

    assert signature_valid(secret, timestamp, body, header)
    assert not signature_valid("t" * 40, timestamp, body, header)
    assert not signature_valid(secret, timestamp, body.replace(b'"x":1', b'"x":2'), header)
    assert not signature_valid(secret, str(int(timestamp) + 1), body, header)
    flipped = "1" if header[-1] == "0" else "0"
    assert not signature_valid(secret, timestamp, body, header[:-1] + flipped)
    assert not signature_valid(secret, timestamp, body, "")


@pytest.mark.django_db
def test_endpoints_receive_only_their_topics_and_domain(domain, other_domain):
    url = "http://127.0.0.1:9/hook"
    endpoints = {
        "all": create_endpoint("all", url)[0],
        "topic": create_endpoint("topic", url, topics=["test.alpha."])[0],
        "domain": create_endpoint("domain", url, domain=domain)[0],
        "both": create_endpoint("both", url, topics=["test.alpha."], domain=other_domain)[0],
        "inactive": create_endpoint("inactive", url)[0],
    }
    WebhookEndpoint.objects.filter(pk=endpoints["inactive"].pk).update(active=False)
    with transaction.atomic():
        record("test.alpha.one", domain=domain)
        record("test.alpha.two", domain=other_domain)
        record("test.beta.one", domain=domain)
        record("test.beta.two")

    relay.dispatch()

    def topics(name: str) -> set[str]:
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoints[name])
        return set(deliveries.values_list("message__topic", flat=True))

    assert topics("all") == {"test.alpha.one", "test.alpha.two", "test.beta.one", "test.beta.two"}
    assert topics("topic") == {"test.alpha.one", "test.alpha.two"}
    assert topics("domain") == {"test.alpha.one", "test.beta.one"}
    assert topics("both") == {"test.alpha.two"}
    assert topics("inactive") == set()
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()
