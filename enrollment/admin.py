"""Devices, credentials and EST bindings in the admin. Credentials are read-only (their
secret is never shown nor stored; make and revoke them in the console or the API); devices,
the per-domain EST binding and onboarding configuration are edited here, audited."""

from django.contrib import admin

from audit.admin_mixins import AuditedAdminMixin, ReadOnlyAdmin
from enrollment.models import (
    Device,
    DeviceCertificate,
    EnrollmentCredential,
    EstConfig,
    OnboardingConfig,
)


@admin.register(Device)
class DeviceAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "domain",
        "serial_number",
        "onboarding_method",
        "onboarding_state",
        "created_at",
    ]
    list_filter = ["domain", "onboarding_method", "onboarding_state"]
    search_fields = ["name", "serial_number"]
    readonly_fields = [
        "domain_credential",
        "onboarded_at",
        "created_by",
        "created_at",
        "updated_at",
    ]


@admin.register(EnrollmentCredential)
class EnrollmentCredentialAdmin(ReadOnlyAdmin):
    list_display = ["username", "domain", "device", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["domain"]
    search_fields = ["username", "device__name"]
    exclude = ["digest"]


@admin.register(DeviceCertificate)
class DeviceCertificateAdmin(ReadOnlyAdmin):
    list_display = ["certificate", "domain", "device", "credential", "operation", "created_at"]
    list_filter = ["domain", "operation"]


@admin.register(EstConfig)
class EstConfigAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = [
        "domain",
        "enabled",
        "enroll_profile",
        "reenroll_profile",
        "serverkeygen_profile",
    ]


@admin.register(OnboardingConfig)
class OnboardingConfigAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["domain", "idevid_enabled", "updated_at"]
