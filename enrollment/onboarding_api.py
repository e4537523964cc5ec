"""/api/v1/onboarding-configs/<domain> and /api/v1/onboarding-links (seed 004); the PKCS#12
download is /api/v1/devices/<id>/pkcs12 (enrollment.api).

Reading needs domain.view; changing a domain's onboarding settings and making or revoking
links needs devices.manage; the direct PKCS#12 download needs certs.issue (an RA officer may
request but never issue: they make a link). Another domain's objects answer 404. A link's
token is in the answer to its creation and nowhere else."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Perm
from approvals.api import CommentSerializer
from enrollment import onboarding, onboarding_links
from enrollment.models import Device, OnboardingLink
from enrollment.models.onboarding import ALL_OPERATIONS
from pki.api.common import (
    SLUG,
    DomainScopedViewSet,
    StrictSerializer,
    comment,
    person,
    username,
    validated,
)
from pki.models import Domain


class OnboardingConfigSerializer(serializers.Serializer[Domain]):
    # camelCase field names, as the truststore API writes its JSON (DESIGN.md)
    domain = serializers.CharField(source="slug", read_only=True)
    enabledProtocols = serializers.ListField(
        child=serializers.CharField(), source="enabled_protocols", read_only=True
    )
    allowedOperations = serializers.SerializerMethodField()
    idevidEnabled = serializers.SerializerMethodField()
    idevidSerialPatterns = serializers.SerializerMethodField()
    credentialProfile = serializers.SerializerMethodField()

    def get_allowedOperations(self, obj: Domain) -> list[str]:
        return list(onboarding.config(obj).allowed_operations or [])

    def get_idevidEnabled(self, obj: Domain) -> bool:
        return onboarding.config(obj).idevid_enabled

    def get_idevidSerialPatterns(self, obj: Domain) -> list[str]:
        return list(onboarding.config(obj).idevid_serial_patterns or [])

    def get_credentialProfile(self, obj: Domain) -> str:
        return onboarding.config(obj).credential_profile


class OnboardingConfigUpdateSerializer(StrictSerializer):
    allowedOperations = serializers.ListField(
        child=serializers.ChoiceField(choices=ALL_OPERATIONS), required=False, max_length=100
    )
    idevidEnabled = serializers.BooleanField(required=False)
    idevidSerialPatterns = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, max_length=100
    )
    credentialProfile = serializers.CharField(required=False, max_length=100)


class OnboardingConfigViewSet(mixins.ListModelMixin, DomainScopedViewSet):
    """A domain's onboarding settings: the operations its devices may use (within the
    protocols the admins enabled), IDevID onboarding and its serial-number patterns, and the
    profile domain credentials are issued under."""

    queryset = Domain.objects.none()  # the walk and the schema read the model from it
    serializer_class = OnboardingConfigSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG
    domain_perms = {"update": Perm.DEVICES_MANAGE, "*": Perm.DOMAIN_VIEW}

    def get_queryset(self) -> QuerySet[Domain]:
        return self.visible_domains().order_by("slug")

    def retrieve(self, request: Request, slug: str | None = None) -> Response:
        return Response(OnboardingConfigSerializer(self.get_object()).data)

    @extend_schema(request=OnboardingConfigUpdateSerializer, responses=OnboardingConfigSerializer)
    def update(self, request: Request, slug: str | None = None) -> Response:
        """Changes the settings given; a bad value is a 400 naming it, and nothing changes."""
        domain = self.get_object()
        data = validated(OnboardingConfigUpdateSerializer, request)
        onboarding.update_config(
            person(request),
            domain,
            allowed_operations=data.get("allowedOperations"),
            idevid_enabled=data.get("idevidEnabled"),
            idevid_serial_patterns=data.get("idevidSerialPatterns"),
            credential_profile=data.get("credentialProfile"),
        )
        return Response(OnboardingConfigSerializer(domain).data)


class LinkSerializer(serializers.ModelSerializer[OnboardingLink]):
    domain = serializers.CharField(source="device.domain.slug", read_only=True)
    device = serializers.IntegerField(source="device_id", read_only=True)
    state = serializers.SerializerMethodField()
    certificate = serializers.CharField(source="certificate.serial", read_only=True, default=None)
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = OnboardingLink
        fields = [
            "id",
            "domain",
            "device",
            "state",
            "created_by",
            "created_at",
            "expires_at",
            "used_at",
            "revoked_at",
            "certificate",
        ]

    def get_state(self, obj: OnboardingLink) -> str:
        """open, used, revoked or expired"""
        return obj.state(timezone.now())

    def get_created_by(self, obj: OnboardingLink) -> str | None:
        return username(obj.created_by)


class NewLinkSerializer(LinkSerializer):
    url = serializers.SerializerMethodField()

    class Meta(LinkSerializer.Meta):
        fields = [*LinkSerializer.Meta.fields, "url"]

    def get_url(self, obj: OnboardingLink) -> str:
        """The link to hand to the device's owner: in this answer only."""
        return str(self.context["url"])


class LinkCreateSerializer(StrictSerializer):
    device = serializers.IntegerField(min_value=1, max_value=2**62)


class OnboardingLinkViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet):
    serializer_class = LinkSerializer
    lookup_value_regex = "[0-9]{1,18}"
    domain_field = "device__domain"
    domain_perms = {"revoke": Perm.DEVICES_MANAGE, "*": Perm.DOMAIN_VIEW}

    def get_queryset(self) -> QuerySet[OnboardingLink]:
        qs = self.scoped(
            OnboardingLink.objects.select_related("device__domain", "created_by", "certificate")
        )
        device = self.request.query_params.get("device")
        if self.action == "list" and device and device.isdigit() and len(device) <= 18:
            qs = qs.filter(device_id=int(device))
        return qs

    @extend_schema(request=LinkCreateSerializer, responses={201: NewLinkSerializer})
    def create(self, request: Request) -> Response:
        data = validated(LinkCreateSerializer, request)
        device = (
            Device.objects.filter(pk=data["device"], domain__in=self.visible_domains())
            .select_related("domain")
            .first()
        )
        if device is None:
            raise serializers.ValidationError({"device": "no such device"})
        made = onboarding_links.create_link(device, person(request))
        context = {"url": request.build_absolute_uri(made.path)}
        response = Response(NewLinkSerializer(made.link, context=context).data, status=201)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(request=CommentSerializer, responses=LinkSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke at once: opening the link then answers 410. The body is a JSON object,
        `{}` or with a `comment` for the audit log."""
        link = self.get_object()
        note = comment(request)
        link = onboarding_links.revoke_link(link, person(request), comment=note)
        return Response(LinkSerializer(link).data)
