"""REST API for the audit log: read-only, for holders of audit.view in the event's domain."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from rest_framework import serializers, viewsets

from accounts.permissions import DomainPermission
from accounts.roles import Perm, domains_with
from audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    actor = serializers.CharField(source="actor_name")
    domain = serializers.CharField(source="domain_slug")

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "seq",
            "time",
            "actor",
            "domain",
            "action",
            "object_type",
            "object_id",
            "details",
            "prev_hash",
            "hash",
        ]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditEventSerializer
    permission_classes = [DomainPermission]
    domain_perms = {"*": Perm.AUDIT_VIEW}
    # By id: an event has it from its first moment; `seq` only once sealed into the chain.
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> QuerySet[AuditEvent]:
        qs = AuditEvent.objects.select_related("domain")
        if self.action != "list":
            return qs
        user = self.request.user
        visible = Q(domain__in=domains_with(user, Perm.AUDIT_VIEW))
        if user.is_superuser:
            visible |= Q(domain_slug="")
        qs = qs.filter(visible)
        params = self.request.query_params
        for param, field in (
            ("action", "action__startswith"),
            ("domain", "domain_slug"),
            ("actor", "actor_name"),
            ("object_type", "object_type"),
            ("object_id", "object_id"),
        ):
            if params.get(param):
                qs = qs.filter(**{field: params[param]})
        return qs
