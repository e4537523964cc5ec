"""Webhook endpoints: created with a secret that is shown once and sealed at rest."""

from __future__ import annotations

import secrets

from django.db import transaction

from audit.models import WebhookEndpoint
from audit.relay import WEBHOOK_SECRET_PURPOSE
from audit.services import record
from pki.crypto.sealing import constant_time_equal, hmac_sha256, seal
from pki.models import Domain


@transaction.atomic
def create_endpoint(
    name: str,
    url: str,
    *,
    topics: list[str] | None = None,
    domain: Domain | None = None,
    secret: str | None = None,
    actor: object | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; return it and its signing secret (the only time it is readable)."""
    secret = secret or secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint.objects.create(
        name=name,
        url=url,
        topics=topics or [],
        domain=domain,
        sealed_secret=seal(secret.encode(), WEBHOOK_SECRET_PURPOSE),
    )
    record(
        "audit.webhook.created",
        actor=actor,  # type: ignore[arg-type]
        domain=domain,
        obj=endpoint,
        details={"name": name, "url": url, "topics": endpoint.topics},
        publish=False,
    )
    return endpoint, secret


def signature_valid(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver runs on `X-Anchorage-Signature` (documented in docs/webhooks.md)."""
    expected = "sha256=" + hmac_sha256(secret.encode(), timestamp.encode() + b"." + body)
    return constant_time_equal(expected, header)
