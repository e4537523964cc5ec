"""/api/v1/certificate-requests: the RA officer's path to a certificate.

An RA officer (certs.request) submits a CSR; someone else holding certs.issue approves it
through the approval engine, whose task then issues the certificate as that approver
(pki.services.requests). Rejecting needs certs.issue too; only the submitter cancels.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Perm
from approvals import services as approvals
from approvals.api import CommentSerializer
from config.errors import Conflict
from pki.api.common import (
    DecidedByApprovalViewSet,
    comment,
    domain_for,
    person,
    validated,
)
from pki.models import CertificateRequest
from pki.services import requests


class SubmitSerializer(serializers.Serializer[Any]):
    domain = serializers.SlugField(max_length=63)
    profile = serializers.SlugField(max_length=100)
    csr = serializers.CharField(max_length=64 * 1024, trim_whitespace=False)
    comment = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")


class CertificateRequestSerializer(serializers.ModelSerializer[CertificateRequest]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    profile = serializers.CharField(source="profile.name", read_only=True)
    requested_by = serializers.CharField(source="requested_by.get_username", read_only=True)
    approval_id = serializers.IntegerField(read_only=True, allow_null=True)
    approval_state = serializers.SerializerMethodField()
    action_state = serializers.SerializerMethodField()
    certificate: Any = serializers.SlugRelatedField(slug_field="serial", read_only=True)

    class Meta:
        model = CertificateRequest
        fields = [
            "id",
            "domain",
            "profile",
            "subject",
            "comment",
            "requested_by",
            "state",
            "approval_id",
            "approval_state",
            "action_state",
            "certificate",
            "failure",
            "created_at",
        ]

    def get_approval_state(self, obj: CertificateRequest) -> str | None:
        return obj.approval.state if obj.approval else None

    def get_action_state(self, obj: CertificateRequest) -> str | None:
        """The issuing task's progress once approved: queued, running, done or failed."""
        return obj.approval.action_state if obj.approval else None


class CertificateRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, DecidedByApprovalViewSet
):
    serializer_class = CertificateRequestSerializer
    lookup_value_regex = "[0-9]{1,18}"
    # The engine checks the rest: not the submitter, once per person, still pending.
    domain_perms = {
        "approve": Perm.CERTS_ISSUE,
        "reject": Perm.CERTS_ISSUE,
        "*": Perm.DOMAIN_VIEW,
    }

    def get_queryset(self) -> QuerySet[CertificateRequest]:
        qs = self.scoped(
            CertificateRequest.objects.select_related(
                "domain", "profile", "requested_by", "approval", "certificate"
            )
        )
        if self.action == "list":
            state = self.request.query_params.get("state")
            if state:
                qs = qs.filter(state=state)
        return qs

    @extend_schema(request=SubmitSerializer, responses={201: CertificateRequestSerializer})
    def create(self, request: Request) -> Response:
        data = validated(SubmitSerializer, request)
        user = person(request)
        domain = domain_for(data["domain"], user, Perm.CERTS_REQUEST)
        submitted = requests.submit(
            domain, data["profile"], data["csr"], user, comment=data["comment"]
        )
        return Response(
            CertificateRequestSerializer(submitted).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=CommentSerializer, responses=CertificateRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        approvals.cancel(self.approval_id(obj), request.user, comment(request))
        return self.answer(obj)

    def approval_id(self, obj: CertificateRequest) -> int:
        if obj.approval_id is None:
            raise Conflict(f"request #{obj.pk} has no approval request", "no_approval")
        return obj.approval_id

    def answer(self, obj: CertificateRequest) -> Response:
        return Response(CertificateRequestSerializer(self.get_queryset().get(pk=obj.pk)).data)
