"""DRF permission classes that check a named permission *in the object's domain*."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.roles import Perm, has_perm
from pki.models import Domain


def domain_of(obj: Any) -> Domain | None:
    if isinstance(obj, Domain):
        return obj
    return getattr(obj, "domain", None)


class DomainPermission(BasePermission):
    """Object access needs the view's permission in the object's domain.

    A view sets `domain_perms = {"GET": Perm.DOMAIN_VIEW, "approve": Perm.X, ...}` keyed by
    action name first, then HTTP method. Lists are narrowed by the view's queryset
    (accounts.roles.domains_with); this class guards each object, so another domain's object
    answers 403, not its data.
    """

    message = "you do not hold this permission in the object's domain"

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        perm = required_perm(request, view)
        domain = domain_of(obj)
        if perm is None or domain is None:
            return bool(request.user.is_superuser)
        if not has_perm(request.user, perm, domain):
            self.message = f"you do not hold {perm.value} in domain {domain.slug}"
            return False
        return True


def required_perm(request: Request, view: APIView) -> Perm | None:
    perms: dict[str, Perm] = getattr(view, "domain_perms", {})
    action = getattr(view, "action", None)
    if action and action in perms:
        return perms[action]
    return perms.get(request.method or "GET", perms.get("*"))
