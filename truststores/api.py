"""/api/v1/truststore-requests and /api/v1/truststores/<type> (issue 5, item 8), with the
field names of DESIGN.md's "Truststore request JSON".

Requests are scoped like the PKI objects: another domain's request answers 404. Approve and
reject go through the approval engine (who may decide, never the submitter, still pending);
a bundle whose validation failed cannot be approved (truststores.services).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Perm
from approvals.api import CommentSerializer
from config.errors import Conflict, NotFound
from pki.api.common import (
    PEM_TYPE,
    DecidedByApprovalViewSet,
    DomainScopedViewSet,
    StrictSerializer,
    comment,
    domain_for,
    file_response,
    person,
    queried_domain,
    validated,
)
from truststores import deploy, services
from truststores.models import Deployment, DeploymentTarget, TruststoreRequest, TruststoreType

# A bundle of 1,000 certificates is ~1.5 MB of PEM; the validator sets the real limit.
MAX_BASE64 = 16 * 1024 * 1024


class TruststoreSubmitSerializer(StrictSerializer):
    domain = serializers.SlugField(max_length=63)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=4000, allow_blank=True, default="")
    truststoreType = serializers.ChoiceField(choices=TruststoreType.values)
    bundle = serializers.CharField(max_length=MAX_BASE64, trim_whitespace=True)

    def validate_bundle(self, value: str) -> bytes:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise serializers.ValidationError("bundle must be base64 of the PEM bundle") from None


class TruststoreRequestSerializer(serializers.ModelSerializer[TruststoreRequest]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    truststoreType = serializers.CharField(source="truststore_type", read_only=True)
    bundle = serializers.SerializerMethodField()
    certificateCount = serializers.IntegerField(source="certificate_count", read_only=True)
    validationResult = serializers.JSONField(source="validation_result", read_only=True)
    submittedBy = serializers.CharField(source="submitted_by.get_username", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    readyAt = serializers.DateTimeField(source="ready_at", read_only=True)

    class Meta:
        model = TruststoreRequest
        fields = [
            "id",
            "name",
            "description",
            "truststoreType",
            "bundle",
            "state",
            "certificateCount",
            "validationResult",
            "submittedBy",
            "createdAt",
            "domain",
            "comparison",
            "error",
            "readyAt",
        ]

    def get_bundle(self, obj: TruststoreRequest) -> str | None:
        """Base64 of the PEM bundle; null once discarded (a rejected request)."""
        return base64.b64encode(obj.bundle.encode()).decode() if obj.bundle else None


class TruststoreRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, DecidedByApprovalViewSet
):
    serializer_class = TruststoreRequestSerializer
    lookup_value_regex = "[0-9]{1,18}"
    # The engine checks the rest: not the submitter, once per person, still pending.
    domain_perms = {
        "approve": Perm.TRUSTSTORES_APPROVE,
        "reject": Perm.TRUSTSTORES_APPROVE,
        "deploy": Perm.TRUSTSTORES_APPROVE,
        "*": Perm.DOMAIN_VIEW,
    }

    def get_queryset(self) -> QuerySet[TruststoreRequest]:
        qs = self.scoped(TruststoreRequest.objects.select_related("domain", "submitted_by"))
        if self.action == "list":
            params = self.request.query_params
            if params.get("truststoreType"):
                qs = qs.filter(truststore_type=params["truststoreType"])
            if params.get("state"):
                qs = qs.filter(state=params["state"])
        return qs

    @extend_schema(request=TruststoreSubmitSerializer, responses={201: TruststoreRequestSerializer})
    def create(self, request: Request) -> Response:
        data = validated(TruststoreSubmitSerializer, request)
        user = person(request)
        domain = domain_for(data["domain"], user, Perm.TRUSTSTORES_SUBMIT)
        submitted = services.submit(
            domain,
            user,
            name=data["name"],
            description=data["description"],
            truststore_type=data["truststoreType"],
            bundle=data["bundle"],
        )
        return Response(TruststoreRequestSerializer(submitted).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CommentSerializer, responses=TruststoreRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        services.cancel(obj, person(request), comment(request))
        return self.answer(obj)

    @extend_schema(request=CommentSerializer, responses={202: TruststoreRequestSerializer})
    @action(detail=True, methods=["post"])
    def deploy(self, request: Request, pk: str | None = None) -> Response:
        """Queue the swap of an approved request again (after a failed deployment)."""
        obj = self.get_object()
        deploy.retry(obj, person(request), comment(request))
        response = self.answer(obj)
        response.status_code = status.HTTP_202_ACCEPTED
        return response

    @extend_schema(responses={(200, PEM_TYPE): bytes})
    @action(detail=True, methods=["get"])
    def bundle(self, request: Request, pk: str | None = None) -> Any:
        obj = self.get_object()
        if not obj.bundle:
            raise NotFound(f"the bundle of request #{obj.pk} was discarded ({obj.state})")
        return file_response(
            obj.bundle.encode(), PEM_TYPE, f"truststore-{obj.truststore_type}-{obj.pk}.pem"
        )

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"])
    def compare(self, request: Request, pk: str | None = None) -> Response:
        """Against the bundle deployed now (it may have changed since the submission); the
        comparison made at submit time once the bundle is gone."""
        obj = self.get_object()
        return Response(services.compare_now(obj))

    def approval_id(self, obj: TruststoreRequest) -> int:
        if obj.approval_id is None:
            raise Conflict(f"request #{obj.pk} has no approval request", "no_approval")
        return obj.approval_id

    def answer(self, obj: TruststoreRequest) -> Response:
        return Response(TruststoreRequestSerializer(self.get_queryset().get(pk=obj.pk)).data)


class DeployedTruststoreView(APIView):
    """GET /api/v1/truststores/<type>?domain=<slug>: the live bundle of a type and its
    request. Without ?domain=, the caller's only visible domain."""

    @extend_schema(responses=TruststoreRequestSerializer)
    def get(self, request: Request, truststore_type: str) -> Response:
        domain = queried_domain(request, Perm.DOMAIN_VIEW)
        current = services.deployed(domain, truststore_type)
        if current is None:
            raise NotFound(f"no {truststore_type} truststore deployed in domain {domain.slug}")
        return Response(TruststoreRequestSerializer(current).data)


class DeploymentTargetSerializer(serializers.ModelSerializer[DeploymentTarget]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    truststoreType = serializers.CharField(source="truststore_type", read_only=True)
    reloadCommand = serializers.JSONField(source="reload_command", read_only=True)
    lastDeployment = serializers.SerializerMethodField()

    class Meta:
        model = DeploymentTarget
        fields = [
            "id",
            "domain",
            "truststoreType",
            "name",
            "kind",
            "path",
            "reloadCommand",
            "enabled",
            "lastDeployment",
        ]

    def get_lastDeployment(self, obj: DeploymentTarget) -> dict[str, Any] | None:
        last = Deployment.objects.filter(target=obj).order_by("-updated_at", "-id").first()
        if last is None:
            return None
        return {
            "request": last.request_id,
            "state": last.state,
            "error": last.error,
            "attempts": last.attempts,
            "updatedAt": last.updated_at.isoformat(),
        }


class DeploymentTargetViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet
):
    """Read-only: where each type's bundle goes. Targets are configured by admins in the
    Django admin (they name files and commands on the worker host)."""

    serializer_class = DeploymentTargetSerializer
    lookup_value_regex = "[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[DeploymentTarget]:
        qs = self.scoped(DeploymentTarget.objects.select_related("domain"))
        kind = self.request.query_params.get("truststoreType")
        if kind and self.action == "list":
            qs = qs.filter(truststore_type=kind)
        return qs
