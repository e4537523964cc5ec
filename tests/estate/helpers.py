"""One estate for every estate test (tests/estate, the console pages, Chromium): domain
alpha with a public list (Public A, Public B, Old Root) and an internal list (Corp Root,
Corp 2), people holding each role, consumers and reports made in bulk, and small helpers.

tests/estate/conftest.py re-exports the fixtures; other folders import `people_fixture`
and `estate_fixture` (named `people` and `estate`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.roles import Role
from pki.models import Domain
from tests.conftest import MakeUser
from tests.truststores.certs import Issued, make
from truststores.estate import catalog, changes
from truststores.estate.models import (
    Consumer,
    ObservedState,
    RemovalPlan,
    TrustedCA,
    TrustList,
    TrustListChange,
    TrustListVersion,
)

PUBLIC = ("Public A", "Public B", "Old Root")
INTERNAL = ("Corp Root", "Corp 2")


@dataclass
class People:
    ra: User  # ra_officer: manages the inventory, plans removals, proposes changes
    ann: User  # approver
    bob: User  # approver
    auditor: User


@dataclass
class Estate:
    domain: Domain
    people: People
    public: TrustList
    internal: TrustList
    roots: dict[str, Issued] = field(default_factory=dict)  # by CN
    cas: dict[str, TrustedCA] = field(default_factory=dict)

    def fp(self, cn: str) -> str:
        return self.cas[cn].fingerprint


def make_people(domain: Domain, make_user: MakeUser) -> People:
    return People(
        ra=make_user("rita", Role.RA_OFFICER, domain),
        ann=make_user("ann", Role.APPROVER, domain),
        bob=make_user("bob", Role.APPROVER, domain),
        auditor=make_user("audrey", Role.AUDITOR, domain),
    )


def add_cas(trust_list: TrustList, cas: list[TrustedCA], people: People) -> None:
    changes.approve(changes.propose_add(trust_list, cas, people.ra, "test estate"), people.ann)


def build_estate(domain: Domain, people: People) -> Estate:
    roots = {cn: make(cn) for cn in (*PUBLIC, *INTERNAL)}
    cas = {cn: catalog.import_cas(domain, issued.pem)[0] for cn, issued in roots.items()}
    public = catalog.create_list(domain, people.ra, scope="public", name="Public", slug="public")
    internal = catalog.create_list(
        domain, people.ra, scope="internal", name="Internal", slug="internal"
    )
    add_cas(public, [cas[cn] for cn in PUBLIC], people)
    add_cas(internal, [cas[cn] for cn in INTERNAL], people)
    public.refresh_from_db()
    internal.refresh_from_db()
    return Estate(domain, people, public, internal, roots, cas)


@pytest.fixture(name="people")
def people_fixture(domain: Domain, make_user: MakeUser) -> People:
    return make_people(domain, make_user)


@pytest.fixture(name="estate")
def estate_fixture(domain: Domain, people: People) -> Estate:
    return build_estate(domain, people)


def bulk_consumers(
    estate: Estate,
    count: int,
    trust_list: TrustList | None,
    prefix: str = "svc",
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
    """Reports written in bulk (the report service is tested on its own)."""
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


def removal_plan(estate: Estate, cn: str, lists: list[TrustList]) -> RemovalPlan:
    """A bare in-progress plan (no steps), for the change rules; removal.create_plan makes
    the real thing."""
    plan = RemovalPlan.objects.create(
        domain=estate.domain,
        title=f"retire {cn}",
        ca=estate.cas[cn],
        state=RemovalPlan.State.IN_PROGRESS,
        created_by=estate.people.ra,
    )
    plan.trust_lists.set(lists)
    return plan


def current(trust_list: TrustList) -> TrustListVersion:
    trust_list.refresh_from_db()
    assert trust_list.current_version is not None
    return trust_list.current_version


def prints(trust_list: TrustList) -> set[str]:
    """The fingerprints of the list's current version."""
    trust_list.refresh_from_db()
    return catalog.version_fingerprints(trust_list.current_version)


def required(change: TrustListChange) -> int:
    assert change.approval is not None
    return change.approval.required_approvals
