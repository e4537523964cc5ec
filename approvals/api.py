"""REST API for approval requests: list what I may see, decide, cancel."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import DomainPermission
from accounts.roles import Perm, domains_with
from approvals import services
from approvals.models import ApprovalRequest, Decision


class DecisionSerializer(serializers.ModelSerializer[Decision]):
    approver = serializers.CharField(source="approver.get_username", read_only=True)

    class Meta:
        model = Decision
        fields = ["approver", "verdict", "comment", "decided_at"]


class ApprovalRequestSerializer(serializers.ModelSerializer[ApprovalRequest]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    submitter = serializers.CharField(source="submitter.get_username", read_only=True)
    decisions = DecisionSerializer(many=True, read_only=True)
    approvals = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "kind",
            "domain",
            "subject_type",
            "subject_id",
            "summary",
            "submitter",
            "state",
            "required_approvals",
            "approvals",
            "eligible_permission",
            "action_state",
            "action_result",
            "decisions",
            "created_at",
            "decided_at",
        ]

    def get_approvals(self, obj: ApprovalRequest) -> int:
        return services.approvals_count(obj)


class CommentSerializer(serializers.Serializer[Any]):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class ApprovalRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = ApprovalRequestSerializer
    permission_classes = [DomainPermission]
    # Deciding is checked in full by the engine (eligibility, self-approval, quorum);
    # seeing a request needs only the domain.
    domain_perms = {"GET": Perm.DOMAIN_VIEW, "*": Perm.DOMAIN_VIEW}

    def get_queryset(self) -> QuerySet[ApprovalRequest]:
        qs = ApprovalRequest.objects.select_related("domain", "submitter").prefetch_related(
            "decisions__approver"
        )
        if self.action == "list":
            qs = qs.filter(domain__in=domains_with(self.request.user, Perm.DOMAIN_VIEW))
            for field in ("state", "kind"):
                value = self.request.query_params.get(field)
                if value:
                    qs = qs.filter(**{field: value})
        return qs

    def _decided(self, request: ApprovalRequest) -> Response:
        # The service returns the request as it saved it: no need to read it again.
        return Response(ApprovalRequestSerializer(request).data)

    @extend_schema(request=CommentSerializer, responses=ApprovalRequestSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        return self._decided(services.approve(obj.pk, request.user, _comment(request)))

    @extend_schema(request=CommentSerializer, responses=ApprovalRequestSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        return self._decided(services.reject(obj.pk, request.user, _comment(request)))

    @extend_schema(request=CommentSerializer, responses=ApprovalRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        return self._decided(services.cancel(obj.pk, request.user, _comment(request)))


def _comment(request: Request) -> str:
    if not isinstance(request.data, dict):
        raise serializers.ValidationError("the body must be a JSON object")
    serializer = CommentSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return str(serializer.validated_data["comment"])
