"""/api/v1/ceremonies: propose an m-of-n key ceremony, follow it, and decide it as a custodian.

Deciding goes through the approval engine on the ceremony's approval request; the engine
runs the operation (pki.services.hierarchy.execute) once m custodians have approved. The
sealed secret of an import is never shown.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Perm
from approvals import services as approvals
from approvals.models import Decision
from pki.api.common import (
    DecidedByApprovalViewSet,
    domain_for,
    person,
    validated,
)
from pki.models import Ceremony
from pki.services import ceremonies

MAX_CUSTODIANS = 50


class CeremonyStartSerializer(serializers.Serializer[Any]):
    domain = serializers.SlugField(max_length=63)
    operation = serializers.ChoiceField(choices=Ceremony.Operation.choices)
    purpose = serializers.CharField(max_length=300)
    threshold = serializers.IntegerField(min_value=1, max_value=MAX_CUSTODIANS)
    custodians = serializers.ListField(
        child=serializers.CharField(max_length=150), min_length=1, max_length=MAX_CUSTODIANS
    )
    params = serializers.DictField(required=False, default=dict)
    secret = serializers.DictField(required=False, allow_null=True, default=None)

    def validate_custodians(self, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise serializers.ValidationError("name each custodian once")
        return names


class CeremonySerializer(serializers.ModelSerializer[Ceremony]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    started_by = serializers.CharField(source="started_by.get_username", read_only=True)
    custodians = serializers.SerializerMethodField()
    approvals = serializers.SerializerMethodField()
    approved_by = serializers.SerializerMethodField()
    approval_id = serializers.IntegerField(read_only=True)
    action_state = serializers.CharField(source="approval.action_state", read_only=True)

    class Meta:
        model = Ceremony
        fields = [
            "id",
            "domain",
            "operation",
            "purpose",
            "params",
            "threshold",
            "custodians",
            "approvals",
            "approved_by",
            "state",
            "approval_id",
            "action_state",
            "result",
            "started_by",
            "created_at",
            "finished_at",
        ]

    def get_custodians(self, obj: Ceremony) -> list[str]:
        return sorted(u.get_username() for u in obj.approval.eligible_users.all())

    def get_approvals(self, obj: Ceremony) -> int:
        """Approvals that count towards the threshold."""
        return approvals.approvals_count(obj.approval)

    def get_approved_by(self, obj: Ceremony) -> list[str]:
        decisions = obj.approval.decisions.filter(verdict=Decision.Verdict.APPROVE)
        return [d.approver.get_username() for d in decisions.select_related("approver")]


class CeremonyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DecidedByApprovalViewSet):
    serializer_class = CeremonySerializer
    lookup_value_regex = "[0-9]{1,18}"
    domain_perms = {
        "approve": Perm.CEREMONIES_APPROVE,
        "reject": Perm.CEREMONIES_APPROVE,
        "*": Perm.DOMAIN_VIEW,
    }

    def get_queryset(self) -> QuerySet[Ceremony]:
        qs = self.scoped(Ceremony.objects.select_related("domain", "approval", "started_by"))
        if self.action == "list":
            for param in ("state", "operation"):
                value = self.request.query_params.get(param)
                if value:
                    qs = qs.filter(**{param: value})
        return qs

    @extend_schema(request=CeremonyStartSerializer, responses={201: CeremonySerializer})
    def create(self, request: Request) -> Response:
        data = validated(CeremonyStartSerializer, request)
        user = person(request)
        domain = domain_for(data["domain"], user, Perm.CEREMONIES_PROPOSE)
        ceremony = ceremonies.start(
            domain,
            data["operation"],
            purpose=data["purpose"],
            threshold=data["threshold"],
            custodians=_users(data["custodians"]),
            started_by=user,
            params=data["params"],
            secret=data["secret"],
        )
        return Response(CeremonySerializer(ceremony).data, status=status.HTTP_201_CREATED)

    def approval_id(self, obj: Ceremony) -> int:
        return obj.approval_id

    def answer(self, ceremony: Ceremony) -> Response:
        ceremony.refresh_from_db()
        ceremony.approval.refresh_from_db()
        return Response(CeremonySerializer(ceremony).data)


def _users(names: list[str]) -> list[User]:
    found = {u.get_username(): u for u in User.objects.filter(username__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise exceptions.ValidationError({"custodians": f"no user named {', '.join(missing)}"})
    return [found[n] for n in names]
