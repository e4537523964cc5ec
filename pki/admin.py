from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from audit.admin_mixins import AuditedAdminMixin
from pki.models import Domain


@admin.register(Domain)
class DomainAdmin(AuditedAdminMixin, GuardedModelAdmin):  # type: ignore[misc]
    list_display = ["slug", "name", "enabled_protocols", "is_default", "created_at"]
    list_filter = ["is_default"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ("name",)}
