"""Objects of two domains for the API tests, and a user who holds every role in one of them.

OBJECT_FACTORIES names, per model served by an API route with an object lookup, how to make one
such object in a given domain. The URLconf walk (test_urlconf_walk.py) fails for a route whose
model has no factory here: add one when you add a viewset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.db import models, transaction
from django.test import Client

from accounts.roles import Perm, Role, grant_role
from accounts.services import create_token
from approvals.models import ApprovalRequest
from audit.services import record
from pki.models import Domain
from tests.conftest import MakeUser

Factory = Callable[[Domain, User], models.Model]


def _domain(domain: Domain, submitter: User) -> models.Model:
    return domain


def _approval_request(domain: Domain, submitter: User) -> models.Model:
    return ApprovalRequest.objects.create(
        kind="test.walk",
        domain=domain,
        subject_type="test.subject",
        subject_id="1",
        summary=f"walk target in {domain.slug}",
        submitter=submitter,
        required_approvals=1,
        eligible_permission=Perm.CERTS_APPROVE.value,
    )


def _audit_event(domain: Domain, submitter: User) -> models.Model:
    with transaction.atomic():
        return record(
            "test.walk", actor=submitter, domain=domain, object_type="test", object_id="1"
        )


OBJECT_FACTORIES: dict[str, Factory] = {
    "pki.domain": _domain,
    "approvals.approvalrequest": _approval_request,
    "audit.auditevent": _audit_event,
}


@dataclass
class WalkObjects:
    """For each model label: an object in the user's own domain and one in the other."""

    own: dict[str, models.Model]
    other: dict[str, models.Model]


@pytest.fixture
def walk_objects(domain: Domain, other_domain: Domain, make_user: MakeUser) -> WalkObjects:
    submitter = make_user("walk-submitter")
    grant_role(submitter, Role.RA_OFFICER, domain)
    grant_role(submitter, Role.RA_OFFICER, other_domain)
    return WalkObjects(
        own={label: make(domain, submitter) for label, make in OBJECT_FACTORIES.items()},
        other={label: make(other_domain, submitter) for label, make in OBJECT_FACTORIES.items()},
    )


@pytest.fixture
def alpha_user(domain: Domain, make_user: MakeUser) -> User:
    """Every role in domain alpha (the `domain` fixture), nothing anywhere else."""
    user = make_user("alpha-all-roles")
    for role in Role:
        grant_role(user, role, domain)
    return user


def token_client(user: User) -> Client:
    """A plain Django client sending the user's token; a 500 comes back, not raised."""
    _, key = create_token(user, "test")
    return Client(raise_request_exception=False, headers={"Authorization": f"Token {key}"})


@pytest.fixture
def alpha_client(alpha_user: User) -> Client:
    return token_client(alpha_user)


@pytest.fixture
def anon_client() -> Client:
    return Client(raise_request_exception=False)
