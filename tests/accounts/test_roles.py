"""Roles are groups of named permissions, granted per domain (django-guardian)."""

from __future__ import annotations

import pytest

from accounts.roles import (
    ROLE_PERMISSIONS,
    Perm,
    Role,
    domains_with,
    grant_role,
    has_perm,
    revoke_role,
    roles_of,
    sync_role_permissions,
    users_with,
)
from pki.models import Domain
from tests.conftest import MakeUser

pytestmark = pytest.mark.django_db

# What a role may never do (DESIGN.md, "Roles").
CHANGING = {p for p in Perm if p not in {Perm.DOMAIN_VIEW, Perm.AUDIT_VIEW}}


def perms_in(user: object, domain: Domain) -> set[Perm]:
    return {p for p in Perm if has_perm(user, p, domain)}  # type: ignore[arg-type]


def test_issue_names_every_required_permission() -> None:
    for name in (
        "certs.issue",
        "certs.request",
        "profiles.change",
        "truststores.submit",
        "truststores.approve",
        "ceremonies.approve",
        "audit.view",
    ):
        assert Perm(name).django == f"pki.{name.replace('.', '_')}"


def test_ra_officer_requests_in_their_domain_and_holds_nothing_elsewhere(
    make_user: MakeUser, domain: Domain, other_domain: Domain
) -> None:
    ra = make_user("rachel", Role.RA_OFFICER, domain)

    assert has_perm(ra, Perm.CERTS_REQUEST, domain)
    assert has_perm(ra, Perm.PROFILES_CHANGE, domain)
    assert has_perm(ra, Perm.TRUSTSTORES_SUBMIT, domain)
    assert perms_in(ra, other_domain) == set()
    assert roles_of(ra, domain) == [Role.RA_OFFICER]
    assert roles_of(ra, other_domain) == []
    assert list(domains_with(ra, Perm.DOMAIN_VIEW)) == [domain]
    assert list(domains_with(ra, Perm.CERTS_REQUEST)) == [domain]
    # Not through Django's global permissions either.
    assert not ra.has_perm(Perm.CERTS_REQUEST.django)


def test_ra_officer_never_has_certs_issue(
    make_user: MakeUser, domain: Domain, other_domain: Domain
) -> None:
    assert Perm.CERTS_ISSUE not in ROLE_PERMISSIONS[Role.RA_OFFICER]
    ra = make_user("rachel", Role.RA_OFFICER, domain)
    grant_role(ra, Role.RA_OFFICER, other_domain)
    sync_role_permissions(domain)

    for d in (domain, other_domain):
        assert not has_perm(ra, Perm.CERTS_ISSUE, d)
    assert not domains_with(ra, Perm.CERTS_ISSUE).exists()
    assert ra not in users_with(Perm.CERTS_ISSUE, domain)


def test_auditor_reads_and_changes_nothing(
    make_user: MakeUser, domain: Domain, other_domain: Domain
) -> None:
    auditor = make_user("audrey", Role.AUDITOR, domain)

    assert perms_in(auditor, domain) == {Perm.AUDIT_VIEW, Perm.DOMAIN_VIEW}
    assert not perms_in(auditor, domain) & CHANGING
    assert perms_in(auditor, other_domain) == set()
    # audit.view is the auditor's alone (and the admin's, who has everything).
    holders = {role for role, perms in ROLE_PERMISSIONS.items() if Perm.AUDIT_VIEW in perms}
    assert holders == {Role.AUDITOR, Role.ADMIN}


@pytest.mark.parametrize(
    ("role", "must", "must_not"),
    [
        (Role.ADMIN, set(Perm), set()),
        (
            Role.OPERATOR,
            {Perm.CERTS_ISSUE, Perm.CERTS_APPROVE, Perm.CEREMONIES_PROPOSE},
            {Perm.AUDIT_VIEW, Perm.CEREMONIES_APPROVE},
        ),
        (
            Role.APPROVER,
            {Perm.TRUSTSTORES_APPROVE, Perm.CERTS_APPROVE},
            {Perm.CERTS_ISSUE, Perm.TRUSTSTORES_SUBMIT, Perm.PROFILES_CHANGE},
        ),
        (Role.CUSTODIAN, {Perm.CEREMONIES_APPROVE}, {Perm.CERTS_ISSUE, Perm.CERTS_APPROVE}),
    ],
)
def test_role_permissions_follow_the_design(
    role: Role,
    must: set[Perm],
    must_not: set[Perm],
    make_user: MakeUser,
    domain: Domain,
    other_domain: Domain,
) -> None:
    user = make_user("someone", role, domain)
    held = perms_in(user, domain)
    assert must <= held
    assert not held & must_not
    assert perms_in(user, other_domain) == set()


def test_revoking_a_role_takes_its_permissions(make_user: MakeUser, domain: Domain) -> None:
    user = make_user("ops", Role.OPERATOR, domain)
    grant_role(user, Role.AUDITOR, domain)
    assert has_perm(user, Perm.CERTS_ISSUE, domain)

    revoke_role(user, Role.OPERATOR, domain)
    user = type(user).objects.get(pk=user.pk)  # a fresh permission cache

    assert not has_perm(user, Perm.CERTS_ISSUE, domain)
    assert has_perm(user, Perm.AUDIT_VIEW, domain)
    assert roles_of(user, domain) == [Role.AUDITOR]


def test_inactive_users_hold_nothing(make_user: MakeUser, domain: Domain) -> None:
    user = make_user("gone", Role.ADMIN, domain, is_active=False)
    assert perms_in(user, domain) == set()
    assert not domains_with(user, Perm.DOMAIN_VIEW).exists()


def test_has_perm_agrees_with_guardian(domain, other_domain, make_user):
    from guardian.shortcuts import assign_perm

    from accounts.roles import has_perm

    direct = make_user("dora")
    assign_perm(Perm.CERTS_ISSUE.django, direct, domain)
    by_role = make_user("olga", Role.OPERATOR, domain)
    boss = make_user("root", is_superuser=True)
    for user in (direct, by_role, boss):
        for perm in (Perm.CERTS_ISSUE, Perm.AUDIT_VIEW):
            for d in (domain, other_domain):
                assert has_perm(user, perm, d) == user.has_perm(perm.django, d), (user, perm, d)
    assert has_perm(direct, Perm.CERTS_ISSUE, domain)
    assert not has_perm(direct, Perm.CERTS_ISSUE, other_domain)
    by_role.is_active = False
    assert not has_perm(by_role, Perm.CERTS_ISSUE, domain)
