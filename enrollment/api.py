"""/api/v1/devices and /api/v1/enrollment-credentials.

Scoped like the PKI objects: another domain's device or credential answers 404. Anyone
holding domain.view reads (an auditor too); making devices and credentials and revoking
credentials needs devices.manage (RA officers, operators). A credential's secret is in the
answer to its creation and nowhere else, ever.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Perm
from approvals.api import CommentSerializer
from enrollment import onboarding_pkcs12, services
from enrollment.models import Device, DeviceCertificate, EnrollmentCredential
from pki.api.common import (
    DomainScopedViewSet,
    StrictSerializer,
    choice_text,
    comment,
    domain_for,
    file_response,
    person,
    username,
    validated,
)
from pki.models import Domain, IssuedCertificate


def named_device(data: dict[str, Any], domain: Domain) -> Device | None:
    """The device a request body names in `device` (an id), which must be in `domain`."""
    if not data.get("device"):
        return None
    device = Device.objects.filter(pk=data["device"], domain=domain).first()
    if device is None:
        raise serializers.ValidationError({"device": "no such device in this domain"})
    return device


class CredentialSerializer(serializers.ModelSerializer[EnrollmentCredential]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    device = serializers.IntegerField(source="device_id", read_only=True, allow_null=True)
    active = serializers.BooleanField(read_only=True)
    created_by = serializers.SerializerMethodField()
    revoked_by = serializers.SerializerMethodField()

    class Meta:
        model = EnrollmentCredential
        fields = [
            "id",
            "domain",
            "username",
            "device",
            "description",
            "active",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
            "revoked_by",
        ]

    def get_created_by(self, obj: EnrollmentCredential) -> str | None:
        return username(obj.created_by)

    def get_revoked_by(self, obj: EnrollmentCredential) -> str | None:
        return username(obj.revoked_by)


class NewCredentialSerializer(CredentialSerializer):
    secret = serializers.SerializerMethodField()

    class Meta(CredentialSerializer.Meta):
        fields = [*CredentialSerializer.Meta.fields, "secret"]

    def get_secret(self, obj: EnrollmentCredential) -> str:
        """The password for HTTP Basic: shown in this answer only."""
        return str(self.context["secret"])


class DeviceCertificateSerializer(serializers.ModelSerializer[DeviceCertificate]):
    serial = serializers.CharField(source="certificate.serial", read_only=True)
    subject = serializers.CharField(source="certificate.subject", read_only=True)
    not_after = serializers.DateTimeField(source="certificate.not_after", read_only=True)
    status = serializers.CharField(source="certificate.status", read_only=True)

    class Meta:
        model = DeviceCertificate
        fields = ["serial", "subject", "not_after", "status", "operation", "created_at"]


class DomainCredentialSerializer(serializers.ModelSerializer[IssuedCertificate]):
    url = serializers.SerializerMethodField()

    class Meta:
        model = IssuedCertificate
        fields = ["serial", "subject", "not_after", "status", "url"]

    def get_url(self, obj: IssuedCertificate) -> str:
        """The certificate in the API."""
        return reverse("api:certificate-detail", kwargs={"serial": obj.serial})


class DeviceSerializer(serializers.ModelSerializer[Device]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    created_by = serializers.SerializerMethodField()
    onboarding_method = choice_text(Device.Onboarding.values)
    onboarding_state = choice_text(Device.State.values)
    domain_credential = DomainCredentialSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Device
        fields = [
            "id",
            "domain",
            "name",
            "serial_number",
            "description",
            "onboarding_method",
            "onboarding_state",
            "domain_credential",
            "onboarded_at",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def get_created_by(self, obj: Device) -> str | None:
        return username(obj.created_by)


class DeviceDetailSerializer(DeviceSerializer):
    credentials = CredentialSerializer(many=True, read_only=True)
    certificates = DeviceCertificateSerializer(many=True, read_only=True)

    class Meta(DeviceSerializer.Meta):
        fields = [*DeviceSerializer.Meta.fields, "credentials", "certificates"]


class DeviceCreateSerializer(StrictSerializer):
    domain = serializers.SlugField(max_length=63)
    name = serializers.CharField(max_length=200)
    serial_number = serializers.CharField(max_length=200, allow_blank=True, default="")
    description = serializers.CharField(max_length=4000, allow_blank=True, default="")
    onboarding_method = serializers.ChoiceField(
        choices=Device.Onboarding.values, default=Device.Onboarding.NONE
    )


class Pkcs12Serializer(StrictSerializer):
    password = serializers.CharField(max_length=200, trim_whitespace=False)


class CredentialCreateSerializer(StrictSerializer):
    domain = serializers.SlugField(max_length=63)
    username = serializers.CharField(max_length=150, allow_blank=True, default="")
    device = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    description = serializers.CharField(max_length=200, allow_blank=True, default="")


class DeviceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet):
    serializer_class = DeviceSerializer
    lookup_value_regex = "[0-9]{1,18}"
    domain_perms = {"*": Perm.DOMAIN_VIEW}

    def get_queryset(self) -> QuerySet[Device]:
        qs = self.scoped(Device.objects.select_related("domain", "created_by", "domain_credential"))
        if self.action == "retrieve":
            qs = qs.prefetch_related("credentials", "certificates__certificate")
        return qs

    def get_serializer_class(self) -> Any:
        return DeviceDetailSerializer if self.action == "retrieve" else DeviceSerializer

    @extend_schema(request=DeviceCreateSerializer, responses={201: DeviceSerializer})
    def create(self, request: Request) -> Response:
        data = validated(DeviceCreateSerializer, request)
        user = person(request)
        domain = domain_for(data["domain"], user, Perm.DEVICES_MANAGE)
        device = services.create_device(
            domain,
            user,
            name=data["name"],
            serial_number=data["serial_number"],
            description=data["description"],
            onboarding_method=data["onboarding_method"],
        )
        return Response(DeviceSerializer(device).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=Pkcs12Serializer,
        responses={(200, onboarding_pkcs12.P12_TYPE): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["post"])
    def pkcs12(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The device's domain credential with a server-made key, as a PKCS#12 (key,
        certificate, chain up to the root) under `password` (12 characters or more). Needs
        certs.issue: an RA officer makes a one-time link instead. The key is never stored."""
        device = self.get_object()
        data = validated(Pkcs12Serializer, request)
        made = onboarding_pkcs12.download(device, person(request), data["password"])
        response = file_response(made.pkcs12, onboarding_pkcs12.P12_TYPE, made.filename)
        response["Cache-Control"] = "no-store"
        return response


class EnrollmentCredentialViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet
):
    serializer_class = CredentialSerializer
    lookup_value_regex = "[0-9]{1,18}"
    domain_perms = {"revoke": Perm.DEVICES_MANAGE, "*": Perm.DOMAIN_VIEW}

    def get_queryset(self) -> QuerySet[EnrollmentCredential]:
        qs = self.scoped(
            EnrollmentCredential.objects.select_related("domain", "created_by", "revoked_by")
        )
        device = self.request.query_params.get("device")
        if self.action == "list" and device and device.isdigit():
            qs = qs.filter(device_id=int(device))
        return qs

    @extend_schema(request=CredentialCreateSerializer, responses={201: NewCredentialSerializer})
    def create(self, request: Request) -> Response:
        data = validated(CredentialCreateSerializer, request)
        user = person(request)
        domain = domain_for(data["domain"], user, Perm.DEVICES_MANAGE)
        device = named_device(data, domain)
        credential, secret = services.create_credential(
            domain,
            user,
            username=data["username"],
            device=device,
            description=data["description"],
        )
        answer = NewCredentialSerializer(credential, context={"secret": secret})
        return Response(answer.data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CommentSerializer, responses=CredentialSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke at once: the next EST request with it answers 401. The body is a JSON
        object, `{}` or with a `comment` for the audit log."""
        credential = self.get_object()
        note = comment(request)
        credential = services.revoke_credential(credential, person(request), comment=note)
        return Response(CredentialSerializer(credential).data)
