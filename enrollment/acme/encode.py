"""ACME objects as JSON (RFC 8555 §7.1.2-7.1.6)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from enrollment.acme import ari
from enrollment.acme.models import (
    AcmeAccount,
    AcmeAuthorization,
    AcmeChallenge,
    AcmeOrder,
    Status,
)
from enrollment.acme.urlmap import Urls


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def directory(urls: Urls, *, eab_required: bool) -> dict[str, Any]:
    return {
        "newNonce": urls.new_nonce,
        "newAccount": urls.new_account,
        "newOrder": urls.new_order,
        "revokeCert": urls.revoke_cert,
        "keyChange": urls.key_change,
        "renewalInfo": urls.renewal_info,
        "meta": {"externalAccountRequired": eab_required},
    }


def account(urls: Urls, acct: AcmeAccount) -> dict[str, Any]:
    return {
        "status": acct.status,
        "contact": acct.contacts,
        "orders": urls.orders(acct),
    }


def order(urls: Urls, o: AcmeOrder) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "status": o.status,
        "expires": rfc3339(o.expires),
        "identifiers": o.identifiers,
        "authorizations": [urls.authz(a) for a in o.authorizations.order_by("pk")],
        "finalize": urls.finalize(o),
    }
    if o.status == Status.VALID and o.certificate_id:
        doc["certificate"] = urls.certificate(o)
    if o.status == Status.INVALID and o.error:
        doc["error"] = o.error
    if o.replaces is not None:
        doc["replaces"] = ari.cert_id(o.replaces)
    return doc


def authz(urls: Urls, a: AcmeAuthorization) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "identifier": {
            "type": a.identifier_type,
            # §7.1.4: a wildcard authorization names the base domain, with wildcard: true.
            "value": a.identifier_value[2:] if a.wildcard else a.identifier_value,
        },
        "status": a.status,
        "expires": rfc3339(a.expires),
        "challenges": [challenge(urls, c) for c in a.challenges.order_by("pk")],
    }
    if a.wildcard:
        doc["wildcard"] = True
    return doc


def challenge(urls: Urls, c: AcmeChallenge) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": c.type,
        "url": urls.challenge(c),
        "status": c.status,
        "token": c.token,
    }
    if c.validated:
        doc["validated"] = rfc3339(c.validated)
    if c.error:
        doc["error"] = c.error
    return doc
