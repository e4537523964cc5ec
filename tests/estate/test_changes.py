"""Trust list changes through the approval engine: one approval adds, two (and a removal
plan) remove, nobody approves their own; rollback restores an earlier version."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.roles import Role
from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from config.errors import Conflict
from tests.estate.helpers import Estate, current, prints, removal_plan, required
from tests.truststores.certs import make
from truststores.estate import catalog, changes
from truststores.estate.models import RemovalPlan, TrustListChange

pytestmark = pytest.mark.django_db


def test_adding_a_ca_takes_one_approval_and_makes_a_version(estate: Estate) -> None:
    new = catalog.import_cas(estate.domain, make("Public D").pem)
    change = changes.propose_add(estate.public, new, estate.people.ra, "new provider")
    assert required(change) == 1
    assert new[0].fingerprint not in prints(estate.public)
    with pytest.raises(PermissionDenied):  # the proposer never decides
        changes.approve(change, estate.people.ra)
    change = changes.approve(change, estate.people.ann)
    assert change.state == TrustListChange.State.APPLIED
    assert new[0].fingerprint in prints(estate.public)
    version = current(estate.public)
    assert version.number == 3 and version.change_id == change.pk
    assert version.parent is not None and version.parent.number == 2
    assert AuditEvent.objects.filter(action="estate.trust_list.version_created").exists()


def test_removing_a_ca_takes_a_plan_and_two_approvals(estate: Estate) -> None:
    ca = estate.cas["Old Root"]
    with pytest.raises(ValidationError, match="removal plan"):
        changes.propose_remove(estate.public, [ca], estate.people.ra, None)
    draft = removal_plan(estate, "Old Root", [estate.public])
    draft.state = RemovalPlan.State.DRAFT
    draft.save()
    with pytest.raises(Conflict):
        changes.propose_remove(estate.public, [ca], estate.people.ra, draft)
    other = removal_plan(estate, "Public B", [estate.public])
    with pytest.raises(ValidationError, match="its own"):
        changes.propose_remove(estate.public, [ca], estate.people.ra, other)
    plan = removal_plan(estate, "Old Root", [estate.public])
    change = changes.propose_remove(estate.public, [ca], estate.people.ra, plan, "retired")
    assert required(change) == 2
    change = changes.approve(change, estate.people.ann)
    assert change.state == TrustListChange.State.PENDING
    assert ca.fingerprint in prints(estate.public)  # one approval is not enough
    with pytest.raises(Conflict):  # one person counts once
        changes.approve(change, estate.people.ann)
    change = changes.approve(change, estate.people.bob)
    assert change.state == TrustListChange.State.APPLIED
    assert ca.fingerprint not in prints(estate.public)
    plan.refresh_from_db()
    assert plan.state == RemovalPlan.State.REMOVED


def test_only_approvers_decide_and_auditors_propose_nothing(estate: Estate, make_user) -> None:
    new = catalog.import_cas(estate.domain, make("Public E").pem)
    with pytest.raises(PermissionDenied):
        changes.propose_add(estate.public, new, estate.people.auditor)
    change = changes.propose_add(estate.public, new, estate.people.ra)
    other_ra = make_user("otto", Role.RA_OFFICER, estate.domain)
    with pytest.raises(PermissionDenied):
        changes.approve(change, other_ra)
    change = changes.reject(change, estate.people.ann, "not needed")
    assert change.state == TrustListChange.State.REJECTED
    assert change.approval is not None
    assert change.approval.state == ApprovalRequest.State.REJECTED
    assert new[0].fingerprint not in prints(estate.public)


def test_rollback_restores_the_previous_list(estate: Estate) -> None:
    before = current(estate.public)
    plan = removal_plan(estate, "Public A", [estate.public])
    change = changes.propose_remove(estate.public, [estate.cas["Public A"]], estate.people.ra, plan)
    changes.approve(change, estate.people.ann)
    changes.approve(change, estate.people.bob)
    assert estate.fp("Public A") not in prints(estate.public)
    with pytest.raises(PermissionDenied):  # estate.approve, not estate.manage
        changes.rollback(estate.public, before, estate.people.ra, "residual failure")
    version = changes.rollback(estate.public, before, estate.people.ann, "residual failure")
    assert version.restored_from_id == before.pk and version.number == before.number + 2
    assert prints(estate.public) == catalog.version_fingerprints(before)
    with pytest.raises(Conflict):
        changes.rollback(estate.public, version, estate.people.ann, "again")


def test_add_back_takes_only_cas_the_list_held(estate: Estate) -> None:
    plan = removal_plan(estate, "Public B", [estate.public])
    change = changes.propose_remove(estate.public, [estate.cas["Public B"]], estate.people.ra, plan)
    changes.approve(change, estate.people.ann)
    changes.approve(change, estate.people.bob)
    stranger = catalog.import_cas(estate.domain, make("Stranger").pem)
    with pytest.raises(ValidationError):
        changes.add_back(estate.public, stranger, estate.people.ann, "sneak it in")
    changes.add_back(estate.public, [estate.cas["Public B"]], estate.people.ann, "rollback")
    assert estate.fp("Public B") in prints(estate.public)


def test_leaf_certificates_are_not_trust_anchors(estate: Estate) -> None:
    root = estate.roots["Public A"]
    leaf = make("www.example.test", root, ca=False)
    with pytest.raises(ValidationError, match="not CA"):
        catalog.import_cas(estate.domain, leaf.pem)
    with pytest.raises(ValidationError):
        catalog.import_cas(estate.domain, b"not a certificate")
