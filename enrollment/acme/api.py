"""/api/v1/acme-eab-keys and /api/v1/acme-renewal-flags: what operators make for ACME.

An EAB key lets its holder register an ACME account and so get certificates automatically,
so making, seeing and revoking keys needs certs.issue in the key's domain; the HMAC key is in
the create answer only. Flagging certificates for early renewal (ARI) needs certs.revoke.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Perm, domains_with
from approvals.api import CommentSerializer
from enrollment.acme import ari, eab
from enrollment.acme.models import ExternalAccountKey, RenewalFlag
from pki.api.common import (
    DomainScopedViewSet,
    StrictSerializer,
    comment,
    domain_for,
    person,
    validated,
)
from pki.models import CertificateAuthority, Domain, IssuedCertificate


class EabKeySerializer(serializers.ModelSerializer[ExternalAccountKey]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    kid = serializers.CharField(source="key_id", read_only=True)
    account = serializers.CharField(source="account.ident", read_only=True, allow_null=True)

    class Meta:
        model = ExternalAccountKey
        fields = ["id", "domain", "kid", "comment", "account", "created_at", "revoked_at"]


class EabKeyCreateSerializer(StrictSerializer):
    domain = serializers.SlugField(max_length=63)
    comment = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")


class EabKeyCreatedSerializer(EabKeySerializer):
    hmac_key = serializers.CharField(read_only=True, help_text="base64url; shown this once")

    class Meta(EabKeySerializer.Meta):
        fields = [*EabKeySerializer.Meta.fields, "hmac_key"]


class EabKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet):
    serializer_class = EabKeySerializer
    lookup_value_regex = "[0-9]{1,18}"
    domain_perms = {"*": Perm.CERTS_ISSUE}

    def visible_domains(self) -> QuerySet[Domain]:
        return domains_with(self.request.user, Perm.CERTS_ISSUE)

    def get_queryset(self) -> QuerySet[ExternalAccountKey]:
        return self.scoped(ExternalAccountKey.objects.select_related("domain", "account"))

    @extend_schema(request=EabKeyCreateSerializer, responses={201: EabKeyCreatedSerializer})
    def create(self, request: Request) -> Response:
        data = validated(EabKeyCreateSerializer, request)
        user = person(request)
        domain = domain_for(data["domain"], user, Perm.CERTS_ISSUE)
        made = eab.create_key(domain, actor=user, comment=data["comment"])
        answer = dict(EabKeySerializer(made.key).data)
        answer["hmac_key"] = made.hmac_key
        return Response(answer, status=status.HTTP_201_CREATED)

    @extend_schema(request=CommentSerializer, responses=EabKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        key = self.get_object()
        eab.revoke_keys([key], actor=person(request), comment=comment(request))
        key.refresh_from_db()
        return Response(EabKeySerializer(key).data)


class RenewalFlagSerializer(serializers.ModelSerializer[RenewalFlag]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    certificate: Any = serializers.SlugRelatedField(slug_field="serial", read_only=True)
    ca: Any = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.CharField(
        source="created_by.get_username", read_only=True, allow_null=True
    )

    class Meta:
        model = RenewalFlag
        fields = ["id", "domain", "certificate", "ca", "explanation_url", "created_by",
                  "created_at"]  # fmt: skip


class RenewalFlagCreateSerializer(StrictSerializer):
    domain = serializers.SlugField(max_length=63)
    certificate = serializers.CharField(max_length=64, required=False, help_text="serial (hex)")
    ca = serializers.SlugField(max_length=63, required=False, help_text="a CA's slug")
    explanation_url = serializers.URLField(max_length=200, required=False, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if ("certificate" in attrs) == ("ca" in attrs):
            raise serializers.ValidationError("name either a certificate or a CA")
        return attrs


class RenewalFlagViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet):
    serializer_class = RenewalFlagSerializer
    lookup_value_regex = "[0-9]{1,18}"
    domain_perms = {"*": Perm.DOMAIN_VIEW}

    def get_queryset(self) -> QuerySet[RenewalFlag]:
        return self.scoped(
            RenewalFlag.objects.select_related("domain", "certificate", "ca", "created_by")
        )

    @extend_schema(request=RenewalFlagCreateSerializer, responses={201: RenewalFlagSerializer})
    def create(self, request: Request) -> Response:
        data = validated(RenewalFlagCreateSerializer, request)
        user = person(request)
        domain = domain_for(data["domain"], user, Perm.CERTS_REVOKE)
        certificate = ca = None
        if "certificate" in data:
            certificate = IssuedCertificate.objects.filter(
                domain=domain, serial=data["certificate"].upper()
            ).first()
            if certificate is None:
                raise exceptions.ValidationError({"certificate": "no such certificate here"})
        else:
            ca = CertificateAuthority.objects.filter(domain=domain, slug=data["ca"]).first()
            if ca is None:
                raise exceptions.ValidationError({"ca": "no such CA here"})
        try:
            flag = ari.flag(
                domain,
                certificate=certificate,
                ca=ca,
                explanation_url=data["explanation_url"],
                actor=user,
            )
        except (ValueError, ValidationError) as exc:
            raise exceptions.ValidationError(str(exc)) from None
        return Response(RenewalFlagSerializer(flag).data, status=status.HTTP_201_CREATED)
