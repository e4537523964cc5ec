"""Each domain's EST binding: whether EST answers, and the profile of each operation."""

from __future__ import annotations

from django.db import models

DEFAULT_PROFILE = "device"  # made for every domain by pki.services.default_profiles


class EstConfig(models.Model):
    domain = models.OneToOneField("pki.Domain", on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=True)
    enroll_profile = models.CharField(max_length=100, default=DEFAULT_PROFILE)
    reenroll_profile = models.CharField(max_length=100, default=DEFAULT_PROFILE)
    serverkeygen_profile = models.CharField(max_length=100, default=DEFAULT_PROFILE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "EST configuration"

    def __str__(self) -> str:
        return f"EST of {self.domain_id}"

    def profile_for(self, operation: str) -> str:
        return {
            "simpleenroll": self.enroll_profile,
            "simplereenroll": self.reenroll_profile,
            "serverkeygen": self.serverkeygen_profile,
        }.get(operation, self.enroll_profile)
