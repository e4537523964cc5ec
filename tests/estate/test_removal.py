"""Phased removal of a CA (the seed's transition-window pattern): the plan's dates,
dependencies and steps; verification blocking the removal; the removal through two
approvals; residual monitoring; completion only without dependencies; rollback."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audit.models import AuditEvent, OutboxMessage
from config.errors import Conflict
from pki.crypto.keys import KeyAlgorithm
from pki.models import IssuedCertificate
from pki.services import hierarchy, issuance, profiles, revocation
from tests.api.conftest import new_csr
from tests.estate.helpers import (
    Estate,
    add_cas,
    bulk_consumers,
    bulk_report,
    prints,
)
from tests.pki.helpers import TLS_SERVER
from tests.truststores.certs import make
from truststores.estate import catalog, changes, removal
from truststores.estate.models import RemovalPlan, RemovalStep, TrustListChange

pytestmark = pytest.mark.django_db
Kind = RemovalStep.Kind


def at(days: float) -> datetime:
    return START + timedelta(days=days)


START = timezone.now().replace(microsecond=0)


def steps(plan: RemovalPlan) -> dict[str, RemovalStep]:
    return {s.kind: s for s in removal.ordered_steps(plan)}


def states(plan: RemovalPlan) -> dict[str, str]:
    return {k: s.state for k, s in steps(plan).items()}


def test_dates_dependencies_and_steps_of_a_plan(estate: Estate) -> None:
    bulk_consumers(estate, 240, estate.public, "app")
    bulk_consumers(estate, 60, estate.public, "lb", category="infrastructure")
    # Appliances following the internal list, but still holding the old root: found by report.
    boxes = bulk_consumers(estate, 25, estate.internal, "box", category="embedded_third_party")
    bulk_consumers(estate, 40, estate.internal, "corp")  # not affected
    bulk_report(boxes, [estate.fp("Corp Root"), estate.fp("Old Root")])
    announce = at(1)
    plan = removal.create_plan(
        estate.domain, estate.people.ra, estate.cas["Old Root"], now=START, announce_at=announce
    )
    deps = plan.dependencies
    assert deps["consumers_by_list"]["count"] == 300
    assert deps["consumers_by_report"]["count"] == 25
    assert deps["affected"] == 325
    assert deps["categories"] == {
        "application": 240,
        "infrastructure": 60,
        "embedded_third_party": 25,
    }
    assert deps["certificates"]["count"] == 0
    assert [t.slug for t in plan.trust_lists.all()] == ["public"]
    # The longest window among the affected categories: embedded / third-party, 365 days.
    assert plan.announce_at == announce
    assert plan.remove_at == announce + timedelta(days=365)
    assert plan.monitoring_until == plan.remove_at + timedelta(days=30)
    found = steps(plan)
    assert list(found) == Kind.values
    assert found[Kind.ANNOUNCE].due_at == announce
    for kind, days in ((Kind.NOTIFY_90, 90), (Kind.NOTIFY_60, 60), (Kind.NOTIFY_30, 30)):
        assert found[kind].due_at == plan.remove_at - timedelta(days=days)
    assert found[Kind.NOTIFY_14].due_at == plan.remove_at - timedelta(days=14)
    for kind in (Kind.VERIFY_UNUSED, Kind.VERIFY_REPORTS, Kind.REMOVE):
        assert found[kind].due_at == plan.remove_at
    assert found[Kind.MONITOR].due_at == found[Kind.COMPLETE].due_at == plan.monitoring_until
    assert all(s.state == "pending" for s in found.values())
    assert AuditEvent.objects.filter(action="estate.removal.created").count() == 1
    # One active plan per CA.
    with pytest.raises(Conflict):
        removal.create_plan(estate.domain, estate.people.ra, estate.cas["Old Root"], now=START)
    # Nothing is due before the announcement.
    assert removal.run_due(plan.pk, START) == []


def test_a_distrust_event_is_announced_at_once_with_shorter_windows(estate: Estate) -> None:
    bulk_consumers(estate, 50, estate.public, "web")
    later = at(10)
    plan = removal.create_plan(
        estate.domain,
        estate.people.ra,
        estate.cas["Old Root"],
        now=START,
        reason=RemovalPlan.Reason.DISTRUST,
        announce_at=later,
    )
    assert plan.announce_at == START  # immediately, whatever was asked
    assert plan.remove_at == START + timedelta(days=30)  # application, distrust window
    s = states(plan)
    # The reminders that would come before the announcement are left out.
    assert s[Kind.NOTIFY_90] == s[Kind.NOTIFY_60] == "skipped"
    assert s[Kind.NOTIFY_30] == s[Kind.NOTIFY_14] == "pending"
    changed = removal.run_due(plan.pk, START)
    assert [c.kind for c in changed] == [Kind.ANNOUNCE, Kind.NOTIFY_30]
    plan.refresh_from_db()
    assert plan.state == RemovalPlan.State.IN_PROGRESS


def test_windows_are_checked(estate: Estate) -> None:
    ca = estate.cas["Old Root"]
    for bad in ({"os": 0}, {"nope": 10}, {"os": "ten"}, {"os": 99999}):
        with pytest.raises(ValidationError):
            removal.create_plan(estate.domain, estate.people.ra, ca, now=START, windows=bad)
    with pytest.raises(PermissionDenied):  # an auditor plans nothing
        removal.create_plan(estate.domain, estate.people.auditor, ca, now=START)
    with pytest.raises(ValidationError, match="no trust list"):
        new = catalog.import_cas(estate.domain, make("Loose").pem)
        removal.create_plan(estate.domain, estate.people.ra, new[0], now=START)


def _local_root_on_the_list(estate: Estate) -> tuple[object, IssuedCertificate]:
    root, issuing = hierarchy.create_local_pki(estate.domain, KeyAlgorithm.EC_P256)
    profiles.save_profile(estate.domain, "web", {**TLS_SERVER}, issuing)
    issued = issuance.issue(
        issuance.IssueRequest(
            domain=estate.domain,
            profile="web",
            csr=new_csr("h1.alpha.test"),
            protocol="api",
            requester="test",
        )
    )
    ca = catalog.import_cas(estate.domain, bytes(root.certificate))[0]
    add_cas(estate.public, [ca], estate.people)
    estate.cas["Ours"] = ca
    cert = IssuedCertificate.objects.get(serial=issued.certificate.serial)
    return root, cert


def test_removal_blocked_by_dependencies_then_completed(estate: Estate) -> None:
    _, cert = _local_root_on_the_list(estate)
    web = bulk_consumers(estate, 200, estate.public, "web")
    held = [estate.fp("Public A"), estate.fp("Public B"), estate.fp("Old Root"), estate.fp("Ours")]
    ca = estate.cas["Ours"]
    plan = removal.create_plan(estate.domain, estate.people.ra, ca, now=START)
    assert plan.dependencies["certificates"]["count"] == 1
    assert plan.remove_at == START + timedelta(days=90)
    before = estate.public.current_version

    removal.run_due(plan.pk, at(0))
    removal.run_due(plan.pk, at(89))  # the four reminders, in order
    assert [s for s in states(plan).values()][:5] == ["done"] * 5
    # At the removal date: our certificate still chains to the CA — the removal waits.
    bulk_report(web, held, at(90))
    removal.run_due(plan.pk, at(90))
    s = steps(plan)
    assert s[Kind.VERIFY_UNUSED].state == "failed"
    assert "1 certificate(s) of ours" in s[Kind.VERIFY_UNUSED].result["reason"]
    assert cert.serial in s[Kind.VERIFY_UNUSED].result["serials"]
    assert s[Kind.REMOVE].state == "pending"
    assert not TrustListChange.objects.filter(removal_plan=plan).exists()
    assert ca.fingerprint in prints(estate.public)

    # The dependency goes: the certificate is revoked. Now the removal is proposed.
    revocation.revoke(cert, "superseded")
    removal.run_due(plan.pk, at(90))
    s = steps(plan)
    assert s[Kind.VERIFY_UNUSED].state == s[Kind.VERIFY_REPORTS].state == "done"
    change = TrustListChange.objects.get(removal_plan=plan)
    assert change.approval is not None and change.approval.required_approvals == 2
    assert change.action == "remove"
    assert s[Kind.REMOVE].state == "pending" and "waiting for" in s[Kind.REMOVE].result["reason"]
    removal.run_due(plan.pk, at(90.5))  # runs again: no second proposal
    assert TrustListChange.objects.filter(removal_plan=plan).count() == 1
    changes.approve(change, estate.people.ann)
    assert ca.fingerprint in prints(estate.public)
    changes.approve(change, estate.people.bob)
    assert ca.fingerprint not in prints(estate.public)
    removal.run_due(plan.pk, at(91))
    plan.refresh_from_db()
    assert plan.state == RemovalPlan.State.MONITORING
    assert steps(plan)[Kind.REMOVE].state == "done"

    # End of monitoring: consumers still report the CA — the plan cannot complete.
    removal.run_due(plan.pk, at(120))
    s = steps(plan)
    assert s[Kind.MONITOR].state == "failed" and s[Kind.MONITOR].result["count"] == 200
    assert s[Kind.COMPLETE].state == "pending"
    plan.refresh_from_db()
    assert plan.state == RemovalPlan.State.MONITORING
    # They report the new state: it completes.
    bulk_report(web, held[:3], at(121))
    removal.run_due(plan.pk, at(121))
    plan.refresh_from_db()
    assert plan.state == RemovalPlan.State.COMPLETED
    assert set(states(plan).values()) == {"done"}
    # Every transition was audited.
    actions = set(
        AuditEvent.objects.filter(
            object_id=str(plan.pk), object_type="estate.removalplan"
        ).values_list("action", flat=True)
    )
    assert {
        "estate.removal.created",
        "estate.removal.announced",
        "estate.removal.notice",
    } <= actions
    assert {"estate.removal.step_failed", "estate.removal.step_done"} <= actions
    assert before is not None and estate.public.current_version is not None
    assert before.number < estate.public.current_version.number


def test_a_consumer_reporting_the_replacement_is_required(estate: Estate) -> None:
    web = bulk_consumers(estate, 20, estate.public, "web")
    plan = removal.create_plan(
        estate.domain,
        estate.people.ra,
        estate.cas["Old Root"],
        now=START,
        replacement_cas=[estate.cas["Public B"]],
    )
    bulk_report(web, [estate.fp("Public A"), estate.fp("Old Root")], at(90))
    removal.run_due(plan.pk, at(90))
    s = steps(plan)
    assert s[Kind.VERIFY_REPORTS].state == "failed"
    assert "20 consumer(s) do not report the replacement" in s[Kind.VERIFY_REPORTS].result["reason"]
    bulk_report(web, [estate.fp("Public B"), estate.fp("Old Root")], at(90))
    removal.run_due(plan.pk, at(90))
    assert steps(plan)[Kind.VERIFY_REPORTS].state == "done"


def test_rollback_restores_the_previous_list(estate: Estate) -> None:
    web = bulk_consumers(estate, 10, estate.public, "web")
    bulk_report(web, [estate.fp("Public A")], at(90))
    plan = removal.create_plan(estate.domain, estate.people.ra, estate.cas["Old Root"], now=START)
    before = estate.public.current_version
    old = prints(estate.public)
    removal.run_due(plan.pk, at(90))
    change = TrustListChange.objects.get(removal_plan=plan)
    changes.approve(change, estate.people.ann)
    changes.approve(change, estate.people.bob)
    assert estate.fp("Old Root") not in prints(estate.public)
    with pytest.raises(PermissionDenied):  # rollback needs estate.approve
        removal.rollback(plan, estate.people.auditor, "nope", at(91))
    with pytest.raises(ValidationError):
        removal.rollback(plan, estate.people.ann, " ", at(91))
    removal.rollback(plan, estate.people.ann, "payments still pin it", at(91))
    plan.refresh_from_db()
    assert plan.state == RemovalPlan.State.ROLLED_BACK
    assert prints(estate.public) == old  # equal in content to the version before removal
    assert before is not None and estate.public.current_version is not None
    assert estate.public.current_version.number == before.number + 2
    assert {s.state for s in removal.ordered_steps(plan)} <= {"done", "skipped"}
    assert AuditEvent.objects.filter(action="estate.removal.state_changed").exists()
    with pytest.raises(Conflict):
        removal.rollback(plan, estate.people.ann, "again", at(92))
    # A rolled-back plan does nothing more, and the CA can be planned again.
    assert removal.run_due(plan.pk, at(500)) == []
    removal.create_plan(estate.domain, estate.people.ra, estate.cas["Old Root"], now=at(92))


def test_rollback_before_removal_cancels_the_pending_change(estate: Estate) -> None:
    web = bulk_consumers(estate, 5, estate.public, "web")
    bulk_report(web, [estate.fp("Public A")], at(90))
    plan = removal.create_plan(estate.domain, estate.people.ra, estate.cas["Old Root"], now=START)
    removal.run_due(plan.pk, at(90))
    change = TrustListChange.objects.get(removal_plan=plan)
    removal.rollback(plan, estate.people.ann, "not yet", at(91))
    change.refresh_from_db()
    assert change.state == TrustListChange.State.CANCELLED
    assert estate.fp("Old Root") in prints(estate.public)


def test_notifications_reach_the_outbox_once_when_the_task_runs_twice(estate: Estate) -> None:
    from truststores.estate.removal_tasks import run_due_removals

    bulk_consumers(estate, 30, estate.public, "web")
    plan = removal.create_plan(estate.domain, estate.people.ra, estate.cas["Old Root"], now=START)
    run_due_removals()
    run_due_removals()
    sent = OutboxMessage.objects.filter(topic="estate.removal.announced")
    assert sent.count() == 1
    payload = sent.get().payload
    assert payload["details"]["plan"] == plan.pk
    assert payload["details"]["affected_consumers"] == 30
    # Each reminder once too, however often the beat runs past its date.
    for _ in range(2):
        removal.run_all_due(at(89))
    assert OutboxMessage.objects.filter(topic="estate.removal.notice").count() == 4
