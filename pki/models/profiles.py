"""Certificate profiles: versioned rulebooks, one active version per profile."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Profile(models.Model):
    domain = models.ForeignKey("pki.Domain", on_delete=models.PROTECT, related_name="profiles")
    name = models.SlugField(max_length=100)
    description = models.TextField(blank=True)
    # Denormalised pointer to the newest version; versions are never edited.
    current_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain__slug", "name"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "name"], name="profile_name_per_domain")
        ]

    def __str__(self) -> str:
        return f"{self.domain.slug}/{self.name}"


class ProfileVersion(models.Model):
    profile = models.ForeignKey(Profile, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    # The rules (pki.services.profiles.ProfileSpec as JSON) and the CA that signs.
    spec = models.JSONField()
    ca = models.ForeignKey(
        "pki.CertificateAuthority", on_delete=models.PROTECT, related_name="profile_versions"
    )
    comment = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["profile", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "version"], name="one_row_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.profile} v{self.version}"
