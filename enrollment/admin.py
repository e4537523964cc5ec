"""Devices, credentials and EST bindings in the admin. Credentials are read-only (their
secret is never shown nor stored; make and revoke them in the console or the API); devices
and the per-domain EST binding are edited here, audited."""

from django.contrib import admin

from audit.admin_mixins import AuditedAdminMixin, ReadOnlyAdmin
from enrollment.models import Device, DeviceCertificate, EnrollmentCredential, EstConfig


@admin.register(Device)
class DeviceAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "domain", "serial_number", "created_by", "created_at"]
    list_filter = ["domain"]
    search_fields = ["name", "serial_number"]
    readonly_fields = ["created_by", "created_at", "updated_at"]


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
