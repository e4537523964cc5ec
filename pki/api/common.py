"""What the PKI viewsets share: domain scoping, approve/reject through the approval engine,
JSON bodies, comments, file answers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import Model, QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import DomainPermission
from accounts.roles import Perm, domains_with, has_perm
from approvals import services as approvals
from approvals.api import CommentSerializer
from pki.models import Domain

SLUG = r"[-a-zA-Z0-9_]+"
PEM_TYPE = "application/x-pem-file"
DER_CERT_TYPE = "application/pkix-cert"


class DomainScopedViewSet(viewsets.GenericViewSet):
    """Base of the viewsets of objects that belong to a domain.

    The queryset of every action holds only objects of domains where the caller holds
    domain.view, so another domain's object answers 404 and its existence stays unknown;
    DomainPermission then checks the action's permission (`domain_perms`) in the object's
    domain, a 403 with the reason.
    """

    permission_classes = [DomainPermission]
    domain_perms: dict[str, Perm] = {"*": Perm.DOMAIN_VIEW}
    hides_other_domains = True  # read by tests/api/test_urlconf_walk.py
    domain_field = "domain"

    def visible_domains(self) -> QuerySet[Domain]:
        return domains_with(self.request.user, Perm.DOMAIN_VIEW)

    def scoped(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        qs = qs.filter(**{f"{self.domain_field}__in": self.visible_domains()})
        slug = self.request.query_params.get("domain")
        if slug and getattr(self, "action", None) == "list":
            qs = qs.filter(**{f"{self.domain_field}__slug": slug})
        return qs


class DecidedByApprovalViewSet(DomainScopedViewSet):
    """Objects decided through their approval request (ceremonies, certificate requests):
    `approve` and `reject` record the caller's decision with a comment in the approval engine,
    which checks who may decide, and answer with the object as it now is (the response body is
    the viewset's serializer). `domain_perms` names the permission of each action."""

    def approval_id(self, obj: Any) -> int:
        """The primary key of `obj`'s approval request."""
        raise NotImplementedError

    def answer(self, obj: Any) -> Response:
        """`obj` as it is after a decision."""
        raise NotImplementedError

    @extend_schema(request=CommentSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        approvals.approve(self.approval_id(obj), request.user, comment(request))
        return self.answer(obj)

    @extend_schema(request=CommentSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        approvals.reject(self.approval_id(obj), request.user, comment(request))
        return self.answer(obj)


def person(request: Request) -> User:
    """The authenticated user behind the request (DomainPermission let no one else in)."""
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated()
    return user


def body(request: Request) -> dict[str, Any]:
    data = request.data
    if not isinstance(data, dict):
        raise exceptions.ValidationError("the body must be a JSON object")
    return data


def validated(
    serializer_class: type[serializers.Serializer[Any]], request: Request, **kw: Any
) -> Any:
    serializer = serializer_class(data=body(request), **kw)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def domain_for(slug: str, user: User, perm: Perm) -> Domain:
    """The domain a request body names, with the caller holding `perm` there."""
    # Slugs are unique: no ORDER BY (`.first()` would add one on every request).
    found = list(Domain.objects.filter(slug=slug).order_by()[:1])
    domain = found[0] if found else None
    if domain is None:
        raise exceptions.ValidationError({"domain": "no such domain"})
    if not has_perm(user, perm, domain):
        raise exceptions.PermissionDenied(f"you do not hold {perm.value} in domain {domain.slug}")
    return domain


def queried_domain(request: Request, perm: Perm) -> Domain:
    """The domain a read names with ?domain=<slug>, or without it the caller's only
    visible domain (400 when they see several)."""
    user = person(request)
    slug = request.query_params.get("domain")
    if slug:
        return domain_for(slug, user, perm)
    visible = list(domains_with(user, Perm.DOMAIN_VIEW)[:2])
    if len(visible) != 1:
        raise exceptions.ValidationError({"domain": "name the domain with ?domain="})
    if not has_perm(user, perm, visible[0]):
        raise exceptions.PermissionDenied(
            f"you do not hold {perm.value} in domain {visible[0].slug}"
        )
    return visible[0]


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses fields it does not know (400 naming them), where a misspelt optional field
    would otherwise be dropped silently, e.g. a revocation reason falling back to
    `unspecified`."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: "unknown field" for name in unknown})
        return attrs


def comment(request: Request) -> str:
    return str(validated(CommentSerializer, request)["comment"])


def file_response(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def choice_text(values: list[str]) -> serializers.CharField:
    """A read-only choice the schema shows as a string naming its values, not as an enum
    component: drf-spectacular names enum components by field name, and a `status` enum
    used by two serializers (list and detail) clashes with other models' `status`."""

    @extend_schema_field({"type": "string", "description": f"one of: {', '.join(values)}"})
    class Choice(serializers.CharField):
        pass

    return Choice(read_only=True)


def username(user: Model | None) -> str | None:
    return user.get_username() if isinstance(user, User) else None
