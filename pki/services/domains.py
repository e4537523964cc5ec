"""Creating and changing domains, with their audit events."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from audit.services import record
from pki.models import Domain, Protocol, validate_protocols


@transaction.atomic
def create_domain(
    slug: str,
    name: str,
    *,
    protocols: list[str] | None = None,
    description: str = "",
    is_default: bool = False,
    actor: User | None = None,
) -> Domain:
    protocols = [Protocol.API.value] if protocols is None else protocols
    domain = Domain(
        slug=slug,
        name=name,
        description=description,
        enabled_protocols=protocols,
        is_default=is_default,
    )
    domain.full_clean()
    domain.save()
    record("pki.domain.created", actor=actor, domain=domain, obj=domain, details=_facts(domain))
    return domain


@transaction.atomic
def set_protocols(domain: Domain, protocols: list[str], *, actor: User | None = None) -> Domain:
    validate_protocols(protocols)
    before = list(domain.enabled_protocols)
    domain.enabled_protocols = sorted(set(protocols))
    domain.save(update_fields=["enabled_protocols"])
    record(
        "pki.domain.protocols_changed",
        actor=actor,
        domain=domain,
        obj=domain,
        details={"before": before, "after": domain.enabled_protocols},
    )
    return domain


def _facts(domain: Domain) -> dict[str, Any]:
    return {
        "slug": domain.slug,
        "name": domain.name,
        "protocols": domain.enabled_protocols,
        "default": domain.is_default,
    }
