"""Fixtures for the approval engine tests: people with roles, a submit helper, and a
stand-in for the broker that records which requests were queued for their action."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from accounts.roles import Role
from approvals import services
from approvals.tasks import run_action
from tests.approvals.testkind import TWO_PERSON

_subjects = itertools.count(1)


@pytest.fixture
def people(domain, other_domain, make_user) -> SimpleNamespace:
    return SimpleNamespace(
        sam=make_user("sam", Role.RA_OFFICER, domain),  # submits
        ann=make_user("ann", Role.APPROVER, domain),
        bob=make_user("bob", Role.APPROVER, domain),
        cid=make_user("cid", Role.APPROVER, domain),
        dan=make_user("dan", Role.APPROVER, domain),
        eve=make_user("eve", Role.APPROVER, other_domain),  # approver, but elsewhere
        ned=make_user("ned"),  # no role anywhere
        rita=make_user("rita", Role.RA_OFFICER, domain),  # sees the domain, cannot approve
    )


@pytest.fixture
def submit(domain, people):
    """submit(m=2) → a pending request of the two-person test kind, submitted by sam."""

    def make(m: int = 1, *, kind: str = TWO_PERSON.name, submitter=None, **kw):
        return services.submit(
            kind=kind,
            domain=kw.pop("domain", domain),
            subject_type="test.thing",
            subject_id=f"thing-{next(_subjects)}",
            submitter=submitter or people.sam,
            summary="a test request",
            required_approvals=m,
            **kw,
        )

    return make


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The ids the engine queued with run_action.delay(), in order; nothing is sent."""
    calls: list[int] = []
    monkeypatch.setattr(run_action, "delay", calls.append)
    return calls
