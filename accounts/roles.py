"""Roles and named permissions, granted per domain with django-guardian.

A role held in a domain is a group named "<domain>:<role>" that holds the role's permissions
on that one Domain object. Checking "may this user do X in domain D" is then one guardian
lookup, and an RA officer of domain A holds nothing on domain B.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser, Group
from django.contrib.auth.models import User as UserModel
from django.db import transaction
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from audit.services import record
from pki.models import Domain

if TYPE_CHECKING:
    from django.db.models import QuerySet

AnyUser = UserModel | AnonymousUser


class Perm(StrEnum):
    DOMAIN_VIEW = "domain.view"
    CERTS_ISSUE = "certs.issue"
    CERTS_REQUEST = "certs.request"
    CERTS_APPROVE = "certs.approve"
    CERTS_REVOKE = "certs.revoke"
    PROFILES_CHANGE = "profiles.change"
    TRUSTSTORES_SUBMIT = "truststores.submit"
    TRUSTSTORES_APPROVE = "truststores.approve"
    CEREMONIES_PROPOSE = "ceremonies.propose"
    CEREMONIES_APPROVE = "ceremonies.approve"
    DEVICES_MANAGE = "devices.manage"
    ESTATE_MANAGE = "estate.manage"
    ESTATE_APPROVE = "estate.approve"
    AUDIT_VIEW = "audit.view"

    @property
    def codename(self) -> str:
        return self.value.replace(".", "_")

    @property
    def django(self) -> str:
        """The name Django and guardian know it by: app label + codename."""
        return f"pki.{self.codename}"


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    RA_OFFICER = "ra_officer"
    APPROVER = "approver"
    CUSTODIAN = "custodian"
    AUDITOR = "auditor"


ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.OPERATOR: frozenset(
        {
            Perm.DOMAIN_VIEW,
            Perm.CERTS_ISSUE,
            Perm.CERTS_REQUEST,
            Perm.CERTS_APPROVE,
            Perm.CERTS_REVOKE,
            Perm.CEREMONIES_PROPOSE,
            Perm.TRUSTSTORES_APPROVE,
            Perm.DEVICES_MANAGE,
            Perm.ESTATE_MANAGE,
            Perm.ESTATE_APPROVE,
        }
    ),
    # Never certs.issue: an RA officer requests, someone else issues.
    Role.RA_OFFICER: frozenset(
        {
            Perm.DOMAIN_VIEW,
            Perm.CERTS_REQUEST,
            Perm.PROFILES_CHANGE,
            Perm.TRUSTSTORES_SUBMIT,
            Perm.DEVICES_MANAGE,
            Perm.ESTATE_MANAGE,
        }
    ),
    Role.APPROVER: frozenset(
        {Perm.DOMAIN_VIEW, Perm.CERTS_APPROVE, Perm.TRUSTSTORES_APPROVE, Perm.ESTATE_APPROVE}
    ),
    Role.CUSTODIAN: frozenset({Perm.DOMAIN_VIEW, Perm.CEREMONIES_APPROVE}),
    Role.AUDITOR: frozenset({Perm.DOMAIN_VIEW, Perm.AUDIT_VIEW}),
}


def role_group(domain: Domain, role: Role) -> Group:
    """The group that carries `role` in `domain`, with its permissions on that domain."""
    group, created = Group.objects.get_or_create(name=f"{domain.slug}:{role.value}")
    if created:
        for perm in ROLE_PERMISSIONS[role]:
            assign_perm(perm.django, group, domain)
    return group


@transaction.atomic
def grant_role(
    user: UserModel, role: Role, domain: Domain, *, actor: UserModel | None = None
) -> bool:
    """Give `user` the role in `domain`; False (and no event) when they already hold it."""
    group = role_group(domain, role)
    if group.user_set.filter(pk=user.pk).exists():
        return False
    group.user_set.add(user)
    _record_change("accounts.role.granted", user, role, domain, actor)
    return True


@transaction.atomic
def revoke_role(
    user: UserModel, role: Role, domain: Domain, *, actor: UserModel | None = None
) -> bool:
    group = role_group(domain, role)
    if not group.user_set.filter(pk=user.pk).exists():
        return False
    group.user_set.remove(user)
    _record_change("accounts.role.revoked", user, role, domain, actor)
    return True


def _record_change(
    action: str, user: UserModel, role: Role, domain: Domain, actor: UserModel | None
) -> None:
    details = {"user": user.username, "role": role.value}
    forget_perms(user)
    record(action, actor=actor, domain=domain, obj=user, details=details)


def sync_role_permissions(domain: Domain) -> None:
    """Bring every role group of `domain` in line with ROLE_PERMISSIONS (after a change)."""
    for role in Role:
        group = role_group(domain, role)
        for perm in Perm:
            if perm in ROLE_PERMISSIONS[role]:
                assign_perm(perm.django, group, domain)
            else:
                remove_perm(perm.django, group, domain)


def roles_of(user: UserModel, domain: Domain) -> list[Role]:
    names = set(user.groups.values_list("name", flat=True))
    return [role for role in Role if f"{domain.slug}:{role.value}" in names]


def has_perm(user: AnyUser, perm: Perm, domain: Domain) -> bool:
    """Whether `user` holds `perm` in `domain`: one indexed query, as every request and every
    issuance asks (guardian's generic has_perm costs several). Same answer as
    user.has_perm(perm.django, domain) with guardian: active superusers hold everything;
    others through an object permission on the domain, granted to them or to a group of
    theirs (roles are groups)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    # Remembered on the user object, which lives for one request or task (as Django's
    # ModelBackend keeps _perm_cache): the API view and issue() both ask.
    remembered: dict[tuple[str, int], bool] = user.__dict__.setdefault("_domain_perm_cache", {})
    key = (perm.value, domain.pk)
    if key not in remembered:
        remembered[key] = _holds(user, perm, domain)
    return remembered[key]


def forget_perms(user: UserModel) -> None:
    user.__dict__.pop("_domain_perm_cache", None)


def _holds(user: UserModel, perm: Perm, domain: Domain) -> bool:
    granted = {
        "permission__codename": perm.codename,
        "permission__content_type__app_label": "pki",
        "object_pk": str(domain.pk),
    }
    return (
        GroupObjectPermission.objects.filter(group__user=user, **granted).exists()
        or UserObjectPermission.objects.filter(user=user, **granted).exists()
    )


def domains_with(user: AnyUser, perm: Perm) -> QuerySet[Domain]:
    """The domains in which `user` holds `perm` (all of them for a superuser)."""
    if not user.is_authenticated or not user.is_active:
        return Domain.objects.none()
    return get_objects_for_user(user, perm.django, klass=Domain, accept_global_perms=False)


def users_with(perm: Perm, domain: Domain) -> Iterable[UserModel]:
    from guardian.shortcuts import get_users_with_perms

    users = get_users_with_perms(
        domain, with_superusers=False, with_group_users=True, only_with_perms_in=[perm.codename]
    )
    return [u for u in users if isinstance(u, UserModel) and u.is_active]
