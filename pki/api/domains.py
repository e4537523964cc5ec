"""/api/v1/domains: the domains the caller can see."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import serializers, viewsets

from accounts.permissions import DomainPermission
from accounts.roles import Perm, domains_with
from pki.models import Domain


class DomainSerializer(serializers.ModelSerializer[Domain]):
    class Meta:
        model = Domain
        fields = ["slug", "name", "description", "enabled_protocols", "is_default", "created_at"]


class DomainViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DomainSerializer
    permission_classes = [DomainPermission]
    domain_perms = {"*": Perm.DOMAIN_VIEW}
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[Domain]:
        if self.action == "list":
            return domains_with(self.request.user, Perm.DOMAIN_VIEW)
        return Domain.objects.all()
