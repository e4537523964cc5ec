"""/api/v1/profiles: certificate profiles and their versions.

A profile is named per domain; GET /profiles/<name> needs ?domain= only when the name exists
in several domains the caller can see. An edit (PUT, or PATCH merging into the current spec)
writes a new version through pki.services.profiles.save_profile; old versions stay readable,
each with its diff against the one before.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Perm
from config.errors import Conflict
from pki.api.common import SLUG, DomainScopedViewSet, domain_for, person, username, validated
from pki.models import CertificateAuthority, Domain, Profile, ProfileVersion
from pki.services import profiles

DOMAIN_PARAM = OpenApiParameter(
    "domain", str, description="the profile's domain, when its name is in several"
)


class ProfileVersionSerializer(serializers.ModelSerializer[ProfileVersion]):
    ca = serializers.CharField(source="ca.slug", read_only=True)
    created_by = serializers.SerializerMethodField()
    diff = serializers.SerializerMethodField()

    class Meta:
        model = ProfileVersion
        fields = ["version", "spec", "ca", "comment", "created_by", "created_at", "diff"]

    def get_created_by(self, obj: ProfileVersion) -> str | None:
        return username(obj.created_by)

    @extend_schema_field(
        serializers.DictField(
            allow_null=True,
            help_text="field → {before, after} against the previous version; null for v1",
        )
    )
    def get_diff(self, obj: ProfileVersion) -> dict[str, Any] | None:
        previous = (
            ProfileVersion.objects.select_related("ca")
            .filter(profile_id=obj.profile_id, version=obj.version - 1)
            .first()
        )
        if previous is None:
            return None
        return profiles.diff(
            {**previous.spec, "ca": previous.ca.slug}, {**obj.spec, "ca": obj.ca.slug}
        )


class ProfileSerializer(serializers.ModelSerializer[Profile]):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    current = serializers.SerializerMethodField()

    class Meta:
        model = Profile
        fields = ["domain", "name", "description", "current_version", "current", "created_at"]

    @extend_schema_field(ProfileVersionSerializer)
    def get_current(self, obj: Profile) -> dict[str, Any]:
        return dict(ProfileVersionSerializer(profiles.current(obj)).data)


class ProfileChangeSerializer(serializers.Serializer[Any]):
    ca = serializers.SlugField(max_length=80, help_text="slug of the signing CA")
    spec = serializers.DictField(help_text="pki.services.profiles.ProfileSpec fields")
    description = serializers.CharField(max_length=2000, allow_blank=True, required=False)
    comment = serializers.CharField(max_length=300, allow_blank=True, required=False, default="")


class ProfileCreateSerializer(ProfileChangeSerializer):
    domain = serializers.SlugField(max_length=63)
    name = serializers.SlugField(max_length=100)


class ProfileViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    DomainScopedViewSet,
):
    serializer_class = ProfileSerializer
    lookup_field = "name"
    lookup_value_regex = SLUG
    domain_perms = {
        "update": Perm.PROFILES_CHANGE,
        "partial_update": Perm.PROFILES_CHANGE,
        "*": Perm.DOMAIN_VIEW,
    }

    def get_queryset(self) -> QuerySet[Profile]:
        return self.scoped(Profile.objects.select_related("domain"))

    def get_object(self) -> Profile:
        name = str(self.kwargs[self.lookup_field])
        qs = self.get_queryset().filter(name=name)
        slug = self.request.query_params.get("domain")
        if slug:
            domain = self.visible_domains().filter(slug=slug).first()
            if domain is None:
                raise exceptions.ValidationError({"domain": f"no domain {slug!r} that you can see"})
            qs = qs.filter(domain=domain)
        found = list(qs[:10])
        if not found:
            raise Http404(f"no profile {name!r}")
        if len(found) > 1:
            domains = ", ".join(p.domain.slug for p in found)
            raise exceptions.ValidationError(
                {"domain": f"profile {name} exists in domains {domains}: name one with ?domain="}
            )
        self.check_object_permissions(self.request, found[0])
        return found[0]

    @extend_schema(parameters=[OpenApiParameter("domain", str, description="only this domain")])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[DOMAIN_PARAM])
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=ProfileCreateSerializer, responses={201: ProfileSerializer})
    def create(self, request: Request) -> Response:
        data = validated(ProfileCreateSerializer, request)
        user = person(request)
        domain = domain_for(data["domain"], user, Perm.PROFILES_CHANGE)
        if Profile.objects.filter(domain=domain, name=data["name"]).exists():
            raise Conflict(
                f"profile {data['name']} exists in domain {domain.slug}: PUT or PATCH "
                "/api/v1/profiles/<name> to add a version",
                "exists",
            )
        version = _save(domain, data["name"], data["spec"], data, user)
        return Response(ProfileSerializer(version.profile).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ProfileChangeSerializer, responses=ProfileSerializer, parameters=[DOMAIN_PARAM]
    )
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = bool(kwargs.get("partial"))
        profile = self.get_object()
        data = validated(ProfileChangeSerializer, request, partial=partial)
        current = profiles.current(profile)
        spec = data.get("spec", {})
        if partial:
            spec = {**current.spec, **spec}
        if "ca" not in data:
            data["ca"] = current.ca.slug
        _save(profile.domain, profile.name, spec, data, person(request))
        profile.refresh_from_db()
        return Response(ProfileSerializer(profile).data)

    @extend_schema(
        request=ProfileChangeSerializer, responses=ProfileSerializer, parameters=[DOMAIN_PARAM]
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(responses=ProfileVersionSerializer(many=True), parameters=[DOMAIN_PARAM])
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, name: str | None = None) -> Response:
        profile = self.get_object()
        versions = profile.versions.select_related("ca", "created_by").order_by("-version")
        return Response(ProfileVersionSerializer(versions, many=True).data)

    @extend_schema(responses=ProfileVersionSerializer, parameters=[DOMAIN_PARAM])
    @action(
        detail=True,
        methods=["get"],
        url_path=r"versions/(?P<version>[0-9]{1,9})",
        url_name="version",
    )
    def version_detail(
        self, request: Request, name: str | None = None, version: str | None = None
    ) -> Response:
        profile = self.get_object()
        found = (
            profile.versions.select_related("ca", "created_by")
            .filter(version=int(version or 0))
            .first()
        )
        if found is None:
            raise Http404(f"profile {profile.name} has no version {version}")
        return Response(ProfileVersionSerializer(found).data)


def _save(
    domain: Domain, name: str, spec: dict[str, Any], data: dict[str, Any], user: User
) -> ProfileVersion:
    ca = CertificateAuthority.objects.filter(domain=domain, slug=data["ca"]).first()
    if ca is None:
        raise exceptions.ValidationError({"ca": f"no CA {data['ca']!r} in domain {domain.slug}"})
    try:
        return profiles.save_profile(
            domain,
            name,
            spec,
            ca,
            actor=user,
            description=data.get("description"),
            comment=data.get("comment", ""),
        )
    except DjangoValidationError as exc:
        raise exceptions.ValidationError({"spec": exc.messages}) from None
