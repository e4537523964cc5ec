"""PKI state. Domains are the unit of tenancy: every CA, profile, certificate, truststore and
device belongs to one, and every permission is granted on one (see accounts.roles)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import models


class Protocol(models.TextChoices):
    API = "api", "REST API"
    EST = "est", "EST"
    CMP = "cmp", "CMP"
    ACME = "acme", "ACME"


def validate_protocols(value: object) -> None:
    allowed = set(Protocol.values)
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise ValidationError("enabled protocols must be a list of names")
    unknown = set(value) - allowed
    if unknown:
        raise ValidationError(f"unknown protocols: {', '.join(sorted(unknown))}")


def default_protocols() -> list[str]:
    return [Protocol.API.value]


class Domain(models.Model):
    slug = models.SlugField(max_length=63, unique=True, validators=[validate_slug])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    enabled_protocols = models.JSONField(
        default=default_protocols, validators=[validate_protocols], blank=True
    )
    # EST's label-less URLs (/.well-known/est/cacerts) serve the default domain.
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_domain",
            )
        ]
        # Named permissions, granted per domain with django-guardian (accounts.roles).
        # The codename is the permission's name with "." replaced by "_".
        permissions = [
            ("domain_view", "domain.view: see the domain and its records"),
            ("certs_issue", "certs.issue: issue certificates directly"),
            ("certs_request", "certs.request: request certificates for approval"),
            ("certs_approve", "certs.approve: approve certificate requests of others"),
            ("certs_revoke", "certs.revoke: revoke certificates"),
            ("profiles_change", "profiles.change: edit certificate profiles"),
            ("truststores_submit", "truststores.submit: submit truststore requests"),
            ("truststores_approve", "truststores.approve: approve truststore requests"),
            ("ceremonies_propose", "ceremonies.propose: propose key ceremonies"),
            ("ceremonies_approve", "ceremonies.approve: approve key ceremonies"),
            ("devices_manage", "devices.manage: manage devices and credentials"),
            ("audit_view", "audit.view: read the audit log"),
            ("estate_manage", "estate.manage: manage the estate inventory and trust lists"),
            ("estate_approve", "estate.approve: approve trust list changes of others"),
        ]

    def __str__(self) -> str:
        return self.slug

    def protocol_enabled(self, protocol: str) -> bool:
        return protocol in (self.enabled_protocols or [])
