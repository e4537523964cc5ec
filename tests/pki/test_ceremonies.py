"""m-of-n key ceremonies: without quorum every path refuses (service, approval task,
management command, admin action); with quorum the operation runs exactly once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.roles import Role, grant_role, revoke_role
from approvals import services as approvals
from approvals.models import ApprovalRequest
from approvals.tasks import run_action
from audit.models import AuditEvent
from config.errors import Conflict, Forbidden
from pki.models import Ceremony, CertificateAuthority
from pki.services import ceremonies, hierarchy
from pki.services.ceremony_rules import QuorumNotMet
from tests.pki.helpers import admin_run_operation

ROOT = {"slug": "alpha-ceremony-root", "name": "Alpha Ceremony Root", "algorithm": "ec-p256"}


@pytest.fixture
def one_short(people) -> Ceremony:
    """A create_root ceremony, 2 of 3, with one approval (m - 1)."""
    return people.approve(people.start(Ceremony.Operation.CREATE_ROOT, dict(ROOT)), 1)


def _cas() -> int:
    return CertificateAuthority.objects.count()


# --- m - 1 approvals: every path refuses --------------------------------------------------------


def test_start_registers_a_pending_approval_naming_the_custodians(people):
    ceremony = people.start(Ceremony.Operation.CREATE_ROOT, dict(ROOT))
    approval = ceremony.approval
    assert ceremony.state == Ceremony.State.PENDING
    assert approval.kind == ceremonies.KIND and approval.subject_id == str(ceremony.pk)
    assert approval.required_approvals == 2
    assert set(approval.eligible_users.all()) == set(people.custodians)
    assert approval.eligible_permission == "ceremonies.approve"
    started = AuditEvent.objects.get(action="ca.ceremony.started")
    assert started.details["ceremony_id"] == ceremony.pk
    assert started.details["threshold"] == 2


def test_service_refuses_with_m_minus_one(one_short):
    assert approvals.approvals_count(one_short.approval) == 1
    with pytest.raises(QuorumNotMet, match="1 of 2 custodian approvals"):
        hierarchy.execute(one_short.pk)
    assert _cas() == 0
    one_short.refresh_from_db()
    assert one_short.state == Ceremony.State.PENDING


def test_task_refuses_with_m_minus_one(one_short):
    assert run_action(one_short.approval_id) != "done"
    assert _cas() == 0
    one_short.refresh_from_db()
    assert one_short.state == Ceremony.State.PENDING


def test_task_refuses_an_approval_forged_past_the_engine(one_short):
    """A request marked approved by a path that skipped the engine still has one decision:
    the task counts again, and so does execute()."""
    ApprovalRequest.objects.filter(pk=one_short.approval_id).update(
        state=ApprovalRequest.State.APPROVED, action_state=ApprovalRequest.ActionState.QUEUED
    )
    Ceremony.objects.filter(pk=one_short.pk).update(state=Ceremony.State.APPROVED)
    assert run_action(one_short.approval_id) == "failed"
    assert _cas() == 0
    with pytest.raises(QuorumNotMet, match="1 of 2"):
        hierarchy.execute(one_short.pk)
    assert _cas() == 0


def test_command_refuses_with_m_minus_one(one_short):
    with pytest.raises(CommandError, match="1 of 2 custodian approvals"):
        call_command("run_ceremony", str(one_short.pk))
    assert _cas() == 0


def test_admin_action_refuses_with_m_minus_one(one_short, make_user):
    admin = make_user("root-admin", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    response = admin_run_operation(client, one_short)
    assert response.status_code == 200
    text = [str(m) for m in response.context["messages"]]
    assert any("1 of 2 custodian approvals" in m for m in text), text
    assert _cas() == 0


def test_quorum_lost_when_a_custodian_loses_the_role(people):
    """Counted from decisions of people who still hold ceremonies.approve."""
    ceremony = people.approve(people.start(Ceremony.Operation.CREATE_ROOT, dict(ROOT)), 2)
    assert ceremony.state == Ceremony.State.APPROVED
    revoke_role(people.custodians[0], Role.CUSTODIAN, people.domain)
    with pytest.raises(QuorumNotMet, match="1 of 2"):
        hierarchy.execute(ceremony.pk)
    assert run_action(ceremony.approval_id) == "failed"
    assert _cas() == 0


# --- m approvals: exactly once ---------------------------------------------------------------


def test_quorum_runs_the_operation_exactly_once(
    people, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(run_action, "delay", queued.append)
    ceremony = people.start(Ceremony.Operation.CREATE_ROOT, dict(ROOT))
    with django_capture_on_commit_callbacks(execute=True):
        approvals.approve(ceremony.approval_id, people.custodians[0])
    assert queued == []
    with django_capture_on_commit_callbacks(execute=True):
        approvals.approve(ceremony.approval_id, people.custodians[2])  # any 2 of the 3
    assert queued == [ceremony.approval_id]  # the task is queued on commit
    ceremony.refresh_from_db()
    assert ceremony.state == Ceremony.State.APPROVED
    assert _cas() == 0  # approving records intent; the task does the work

    assert run_action(ceremony.approval_id) == "done"
    ca = CertificateAuthority.objects.get()
    assert ca.slug == ROOT["slug"] and ca.kind == CertificateAuthority.Kind.ROOT
    assert ca.ceremony_id == ceremony.pk
    ceremony.refresh_from_db()
    assert ceremony.state == Ceremony.State.DONE and ceremony.result == {"ca": ca.slug}
    assert ceremony.finished_at is not None
    approval = ApprovalRequest.objects.get(pk=ceremony.approval_id)
    assert approval.action_state == ApprovalRequest.ActionState.DONE

    # again, by every path: nothing new
    assert run_action(ceremony.approval_id).startswith("skipped")
    with pytest.raises(Conflict) as again:
        hierarchy.execute(ceremony.pk)
    assert again.value.code == "already_done"
    with pytest.raises(CommandError, match="already run"):
        call_command("run_ceremony", str(ceremony.pk))
    assert _cas() == 1

    created = AuditEvent.objects.get(action="ca.root.created")
    assert created.details["ceremony_id"] == ceremony.pk
    assert created.details["slug"] == ca.slug
    assert created.actor == people.operator


def test_execute_before_the_task_leaves_the_task_nothing_to_do(people):
    """The command (or admin) ran the ceremony first; the queued task then finds it done
    and records the result instead of failing or running it again."""
    ceremony = people.approve(people.start(Ceremony.Operation.CREATE_ROOT, dict(ROOT)), 2)
    call_command("run_ceremony", str(ceremony.pk))
    assert _cas() == 1
    assert run_action(ceremony.approval_id) == "done"
    approval = ApprovalRequest.objects.get(pk=ceremony.approval_id)
    assert approval.action_state == ApprovalRequest.ActionState.DONE
    assert approval.action_result == {"ca": ROOT["slug"]}
    assert _cas() == 1


# --- who may approve, who may be named ----------------------------------------------------


def test_a_custodian_approving_twice_is_refused(people):
    ceremony = people.start(Ceremony.Operation.CREATE_ROOT, dict(ROOT))
    custodian = people.custodians[0]
    approvals.approve(ceremony.approval_id, custodian)
    with pytest.raises(Conflict) as twice:
        approvals.approve(ceremony.approval_id, custodian)
    assert twice.value.code == "already_decided"
    with pytest.raises(Conflict):
        ceremonies.approve(ceremony, custodian)
    assert approvals.approvals_count(ceremony.approval) == 1
    with pytest.raises(QuorumNotMet):
        hierarchy.execute(ceremony.pk)


def test_the_proposer_cannot_approve(people):
    grant_role(people.operator, Role.CUSTODIAN, people.domain)  # holds the permission even
    ceremony = people.start(Ceremony.Operation.CREATE_ROOT, dict(ROOT))
    with pytest.raises(Forbidden, match="you submitted this request"):
        approvals.approve(ceremony.approval_id, people.operator)
    assert not ceremony.approval.decisions.exists()


def test_the_proposer_cannot_name_themselves(people):
    grant_role(people.operator, Role.CUSTODIAN, people.domain)
    with pytest.raises(ValidationError, match="submitter cannot be one of the named"):
        people.start(
            Ceremony.Operation.CREATE_ROOT,
            dict(ROOT),
            purpose="self",
            custodians=[people.operator, *people.custodians[:2]],
        )


def test_a_custodian_of_another_domain_cannot_approve(people, other_domain, make_user):
    stranger = make_user("stranger", Role.CUSTODIAN, other_domain)
    ceremony = people.start(Ceremony.Operation.CREATE_ROOT, dict(ROOT))
    with pytest.raises(Forbidden, match=r"ceremonies\.approve in domain alpha"):
        approvals.approve(ceremony.approval_id, stranger)
    assert not ceremony.approval.decisions.exists()


def test_an_unnamed_custodian_of_the_domain_cannot_approve(people, make_user):
    extra = make_user("unnamed", Role.CUSTODIAN, people.domain)
    ceremony = people.start(Ceremony.Operation.CREATE_ROOT, dict(ROOT))
    with pytest.raises(Forbidden, match="not one of the named approvers"):
        approvals.approve(ceremony.approval_id, extra)


def test_a_non_custodian_named_is_refused_at_start(people, make_user):
    approver = make_user("approver-not-custodian", Role.APPROVER, people.domain)
    with pytest.raises(ValidationError, match="approver-not-custodian is not a custodian"):
        people.start(
            Ceremony.Operation.CREATE_ROOT,
            dict(ROOT),
            purpose="bad custodian",
            custodians=[*people.custodians[:2], approver],
        )
    assert not Ceremony.objects.exists()
    assert not ApprovalRequest.objects.exists()


def test_a_custodian_of_another_domain_cannot_be_named(people, other_domain, make_user):
    stranger = make_user("stranger2", Role.CUSTODIAN, other_domain)
    with pytest.raises(ValidationError, match="not a custodian in alpha"):
        people.start(
            Ceremony.Operation.CREATE_ROOT,
            dict(ROOT),
            purpose="bad custodian",
            custodians=[*people.custodians[:2], stranger],
        )


@pytest.mark.parametrize("threshold", [0, 4])
def test_threshold_outside_one_to_n_is_refused(people, threshold):
    with pytest.raises(ValidationError, match="threshold"):
        people.start(Ceremony.Operation.CREATE_ROOT, dict(ROOT), threshold=threshold)


def test_only_a_proposer_may_start(people, make_user):
    custodian = people.custodians[0]
    with pytest.raises(Forbidden, match=r"ceremonies\.propose"):
        people.start(
            Ceremony.Operation.CREATE_ROOT,
            dict(ROOT),
            purpose="not mine to propose",
            custodians=people.custodians[1:],
            started_by=custodian,
        )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"slug": "Not A Slug"}, "slug"),
        ({**ROOT, "algorithm": "dsa-1024"}, "algorithm"),
        ({**ROOT, "key_backend": "nowhere"}, "no key backend named nowhere"),
        ({**ROOT, "validity_days": -1}, "validity_days"),
    ],
)
def test_bad_parameters_are_refused_at_start(people, params, message):
    with pytest.raises(ValidationError, match=message):
        people.start(Ceremony.Operation.CREATE_ROOT, params)
    assert not Ceremony.objects.exists()


def test_a_rejection_ends_the_ceremony(people):
    ceremony = people.approve(people.start(Ceremony.Operation.CREATE_ROOT, dict(ROOT)), 1)
    approvals.reject(ceremony.approval_id, people.custodians[1], "not today")
    ceremony.refresh_from_db()
    assert ceremony.state == Ceremony.State.REJECTED
    with pytest.raises(Conflict) as refused:
        hierarchy.execute(ceremony.pk)
    assert refused.value.code == "not_pending"
    assert _cas() == 0


def test_superuser_without_a_domain_role_is_not_a_custodian(people):
    boss = User.objects.create_superuser("boss", password="x")
    ceremony = people.start(Ceremony.Operation.CREATE_ROOT, dict(ROOT))
    # a superuser holds every permission, but is not among the named custodians
    with pytest.raises(Forbidden, match="not one of the named approvers"):
        approvals.approve(ceremony.approval_id, boss)


def test_who_ran_a_ceremony_is_recorded(people, one_short):
    done = people.run(Ceremony.Operation.CREATE_ROOT, {**ROOT, "slug": "engine-root"})
    by_engine = AuditEvent.objects.get(action="ca.ceremony.executed", object_id=str(done.pk))
    assert by_engine.details["run_by"] == "approval engine" and by_engine.actor is None
    people.approve(one_short, 2)
    call_command("run_ceremony", str(one_short.pk))
    by_command = AuditEvent.objects.get(action="ca.ceremony.executed", object_id=str(one_short.pk))
    assert by_command.details["run_by"] == "manage.py run_ceremony"
    assert by_command.details["ceremony_id"] == one_short.pk
