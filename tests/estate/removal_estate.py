"""An estate for the removal and maturity tests (fixtures imported by those modules): one
domain with a public and an internal list, people of each role, and consumers in bulk."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.roles import Role
from pki.models import Domain
from tests.conftest import MakeUser
from tests.truststores.certs import make
from truststores.estate import catalog, changes
from truststores.estate.models import Consumer, ObservedState, TrustedCA, TrustList


@dataclass
class Crew:
    ra: User  # ra_officer: inventory, plans, proposals
    ann: User  # approver
    bob: User  # approver
    auditor: User


@dataclass
class Estate:
    domain: Domain
    crew: Crew
    public: TrustList
    internal: TrustList
    cas: dict[str, TrustedCA] = field(default_factory=dict)

    def fp(self, cn: str) -> str:
        return self.cas[cn].fingerprint


def add_cas(trust_list: TrustList, cas: list[TrustedCA], crew: Crew) -> None:
    changes.approve(changes.propose_add(trust_list, cas, crew.ra, "test estate"), crew.ann)


@pytest.fixture(name="crew")
def crew_fixture(domain: Domain, make_user: MakeUser) -> Crew:
    return Crew(
        ra=make_user("rita", Role.RA_OFFICER, domain),
        ann=make_user("ann", Role.APPROVER, domain),
        bob=make_user("bob", Role.APPROVER, domain),
        auditor=make_user("audrey", Role.AUDITOR, domain),
    )


def build_estate(domain: Domain, crew: Crew) -> Estate:
    names = ("Public A", "Public B", "Old Root", "Corp Root", "Corp 2")
    cas = {cn: catalog.import_cas(domain, make(cn).pem)[0] for cn in names}
    public = catalog.create_list(domain, crew.ra, scope="public", name="Public", slug="public")
    internal = catalog.create_list(
        domain, crew.ra, scope="internal", name="Internal", slug="internal"
    )
    add_cas(public, [cas["Public A"], cas["Public B"], cas["Old Root"]], crew)
    add_cas(internal, [cas["Corp Root"], cas["Corp 2"]], crew)
    public.refresh_from_db()
    internal.refresh_from_db()
    return Estate(domain, crew, public, internal, cas)


@pytest.fixture(name="estate")
def estate_fixture(domain: Domain, crew: Crew) -> Estate:
    return build_estate(domain, crew)


def bulk_consumers(
    estate: Estate,
    count: int,
    trust_list: TrustList | None,
    prefix: str,
    *,
    category: str = "application",
    distribution: str = "config_management",
    owner: bool = True,
) -> list[Consumer]:
    Consumer.objects.bulk_create(
        [
            Consumer(
                domain=estate.domain,
                name=f"{prefix}-{i:04d}",
                kind="service",
                category=category,
                distribution=distribution,
                owner_team=f"team-{i % 7}" if owner else "",
                trust_list=trust_list,
            )
            for i in range(count)
        ]
    )
    return list(Consumer.objects.filter(name__startswith=f"{prefix}-").order_by("name"))


def bulk_report(consumers: list[Consumer], prints: list[str], when: datetime | None = None) -> None:
    when = when or timezone.now()
    ObservedState.objects.bulk_create(
        [
            ObservedState(consumer=c, fingerprints=sorted(prints), reported_at=when, reporter="t")
            for c in consumers
        ],
        update_conflicts=True,
        unique_fields=["consumer"],
        update_fields=["fingerprints", "reported_at"],
    )
    Consumer.objects.filter(pk__in=[c.pk for c in consumers]).update(last_report_at=when)
