"""REST API: who am I, and which roles do I hold where."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Perm, Role, domains_with, has_perm, roles_of


class DomainGrantsSerializer(serializers.Serializer[Any]):
    roles = serializers.ListField(child=serializers.CharField())
    permissions = serializers.ListField(child=serializers.CharField())


class MeSerializer(serializers.Serializer[Any]):
    """Describes the answer for the OpenAPI schema; the view builds it directly."""

    username = serializers.CharField()
    is_admin = serializers.BooleanField()
    domains = serializers.DictField(child=DomainGrantsSerializer(), help_text="keyed by slug")


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        domains = domains_with(user, Perm.DOMAIN_VIEW)
        return Response(
            {
                "username": user.get_username(),
                "is_admin": user.is_superuser,
                "domains": {
                    d.slug: {
                        "roles": [Role.ADMIN.value]
                        if user.is_superuser
                        else [r.value for r in roles_of(user, d)],  # type: ignore[arg-type]
                        "permissions": [p.value for p in Perm if has_perm(user, p, d)],
                    }
                    for d in domains
                },
            }
        )
