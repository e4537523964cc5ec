"""`bootstrap_demo` seeds a small estate in domain `demo`: lists with versions, consumers
across the categories with owners, reports of which some drift and one is stale. Running it
again changes nothing, and the drift job finds the drift it seeded."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from approvals.models import ApprovalRequest
from audit.models import AuditEvent, OutboxMessage
from pki.models import Domain
from tests.console.helpers import logged_in
from tests.estate.helpers import current
from truststores.estate import drift, maturity
from truststores.estate.models import (
    Consumer,
    DriftFinding,
    ObservedState,
    RemovalPlan,
    RemovalStep,
    TrustedCA,
    TrustList,
    TrustListVersion,
)

pytestmark = pytest.mark.django_db


def bootstrap() -> dict[str, Any]:
    out = StringIO()
    call_command("bootstrap_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def state() -> dict[str, Any]:
    return {
        "cas": sorted(TrustedCA.objects.values_list("fingerprint", flat=True)),
        "versions": TrustListVersion.objects.count(),
        "consumers": sorted(Consumer.objects.values_list("name", "updated_at")),
        "reports": sorted(ObservedState.objects.values_list("consumer_id", "reported_at")),
        "findings": sorted(
            DriftFinding.objects.values_list("consumer_id", "kind", "fingerprint", "last_seen")
        ),
        "plans": sorted(RemovalPlan.objects.values_list("pk", "state", "updated_at")),
        "steps": sorted(RemovalStep.objects.values_list("pk", "state", "due_at")),
        "approvals": ApprovalRequest.objects.count(),
        "events": AuditEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
    }


def test_a_small_estate_with_drift_twice_the_same() -> None:
    first = bootstrap()
    plan = RemovalPlan.objects.get()
    assert first["estate"] == {
        "trustLists": ["internal-services", "public-internet"],
        "consumers": 12,
        "removalPlan": plan.pk,
    }
    domain = Domain.objects.get(slug="demo")
    lists = {t.slug: t for t in TrustList.objects.filter(domain=domain)}
    assert {t.scope for t in lists.values()} == {"internal", "public"}
    for trust_list in lists.values():
        assert trust_list.current_version is not None
        assert trust_list.current_version.number == 2  # created empty, then an approved add
        assert trust_list.current_version.change is not None
    internal = set(current(lists["internal-services"]).cas.values_list("subject", flat=True))
    assert any("Demo Root CA" in s for s in internal), internal
    public = current(lists["public-internet"]).cas.all()
    assert all(ca.self_signed for ca in public) and public.count() == 2
    consumers = Consumer.objects.filter(domain=domain)
    assert {c.category for c in consumers} == {
        "os",
        "application",
        "infrastructure",
        "embedded_third_party",
    }
    assert len({c.kind for c in consumers}) >= 8
    assert all(c.owner_team and c.trust_list_id for c in consumers)

    # The drift the demo seeded: one CA missing, one extra, one stale report, one silent.
    open_ = DriftFinding.objects.filter(domain=domain, resolved_at__isnull=True)
    found = {(f.consumer.name, f.kind) for f in open_.select_related("consumer")}
    assert found == {
        ("rhel-web-02", "missing"),
        ("orders-api", "extra"),
        ("billing-python", "stale_report"),
        ("storage-array", "stale_report"),
    }
    score = maturity.score(domain, timezone.now())
    assert score.facts["consumers"] == 12

    before = state()
    second = bootstrap()
    assert second == first
    assert state() == before  # nothing written: no rows, no versions, no audit events

    # The drift job over the seeded data finds the same drift and nothing new.
    summary = drift.run()
    assert summary.opened == 0 and summary.resolved == 0 and summary.open == 4


def test_a_draft_removal_plan_with_its_timeline() -> None:
    demo = bootstrap()
    plan = RemovalPlan.objects.get(pk=demo["estate"]["removalPlan"])
    assert plan.state == "draft" and plan.domain.slug == "demo"
    assert "CN=Demo Public Root R2" in plan.ca.subject
    assert [t.slug for t in plan.trust_lists.all()] == ["public-internet"]
    assert ["CN=Demo Public Root R1" in c.subject for c in plan.replacement_cas.all()] == [True]
    assert plan.created_by.username == demo["users"]["ra_officer"]["username"]
    assert plan.announce_at is not None and plan.remove_at is not None
    # Announced in the future, so the beat's run leaves it a draft for now.
    assert plan.announce_at > timezone.now()
    assert plan.remove_at > plan.announce_at and plan.dependencies["affected"] >= 1
    steps = plan.steps.all()
    assert steps.count() == 10 and all(s.state in ("pending", "skipped") for s in steps)

    client = logged_in_demo(demo["users"]["auditor"]["username"])
    page = client.get(f"/estate/plans/{plan.pk}/").content.decode()
    assert "Retire Demo Public Root R2" in page
    assert "Announce" in page and "Residual monitoring" in page


def test_the_estate_pages_show_it() -> None:
    demo = bootstrap()
    client = logged_in_demo(demo["users"]["auditor"]["username"])
    page = client.get("/estate/?domain=demo").content.decode()
    assert 'data-testid="consumer-count">12<' in page
    drifting = client.get("/estate/consumers/?domain=demo&drift=1").content.decode()
    assert "rhel-web-02" in drifting and "orders-api" in drifting
    assert "payments-jvm" not in drifting
    lists = client.get("/estate/lists/?domain=demo").content.decode()
    assert "Internal services" in lists and "Public-internet-facing" in lists


def logged_in_demo(username: str) -> Client:
    from django.contrib.auth import get_user_model

    return logged_in(get_user_model().objects.get(username=username))
