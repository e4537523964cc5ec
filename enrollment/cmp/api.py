"""/api/v1/cmp-secrets: CMP shared secrets (RFC 9483 §3.2). Scoped like devices: another
domain's secret answers 404; domain.view reads, devices.manage creates and revokes. The
secret's value is in the answer to its creation and nowhere else, ever."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Perm
from approvals.api import CommentSerializer
from enrollment.api import named_device
from enrollment.cmp import services
from enrollment.cmp.models import CmpSecret
from pki.api.common import (
    DomainScopedViewSet,
    StrictSerializer,
    comment,
    domain_for,
    person,
    validated,
)


class CmpSecretSerializer(serializers.ModelSerializer[CmpSecret]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    device = serializers.IntegerField(source="device_id", read_only=True, allow_null=True)
    active = serializers.BooleanField(read_only=True)

    class Meta:
        model = CmpSecret
        fields = [
            "id",
            "domain",
            "reference",
            "device",
            "description",
            "active",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]


class NewCmpSecretSerializer(CmpSecretSerializer):
    secret = serializers.SerializerMethodField()

    class Meta(CmpSecretSerializer.Meta):
        fields = [*CmpSecretSerializer.Meta.fields, "secret"]

    def get_secret(self, obj: CmpSecret) -> str:
        """The shared secret (`openssl cmp -secret pass:...`): shown in this answer only."""
        return str(self.context["secret"])


class CmpSecretCreateSerializer(StrictSerializer):
    domain = serializers.SlugField(max_length=63)
    reference = serializers.CharField(max_length=128, allow_blank=True, default="")
    device = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    description = serializers.CharField(max_length=200, allow_blank=True, default="")


class CmpSecretViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet):
    serializer_class = CmpSecretSerializer
    lookup_value_regex = "[0-9]{1,18}"
    domain_perms = {"revoke": Perm.DEVICES_MANAGE, "*": Perm.DOMAIN_VIEW}

    def get_queryset(self) -> QuerySet[CmpSecret]:
        return self.scoped(CmpSecret.objects.select_related("domain"))

    @extend_schema(request=CmpSecretCreateSerializer, responses={201: NewCmpSecretSerializer})
    def create(self, request: Request) -> Response:
        data = validated(CmpSecretCreateSerializer, request)
        user = person(request)
        domain = domain_for(data["domain"], user, Perm.DEVICES_MANAGE)
        device = named_device(data, domain)
        row, secret = services.create_secret(
            domain,
            user,
            reference=data["reference"],
            device=device,
            description=data["description"],
        )
        answer = NewCmpSecretSerializer(row, context={"secret": secret})
        return Response(answer.data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CommentSerializer, responses=CmpSecretSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke at once: the next CMP request MAC-protected with it is refused."""
        row = services.revoke_secret(self.get_object(), person(request), comment=comment(request))
        return Response(CmpSecretSerializer(row).data)
