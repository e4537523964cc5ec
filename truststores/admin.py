"""Truststore requests in the admin, read-only: every change goes through
truststores.services and the approval engine, never an edited row."""

from django.contrib import admin

from audit.admin_mixins import ReadOnlyAdmin
from truststores.models import Deployment, DeploymentTarget, TruststoreRequest


@admin.register(TruststoreRequest)
class TruststoreRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "domain",
        "truststore_type",
        "name",
        "state",
        "certificate_count",
        "submitted_by",
        "created_at",
    ]
    list_filter = ["truststore_type", "state", "domain"]
    search_fields = ["name", "description", "submitted_by__username"]


@admin.register(DeploymentTarget)
class DeploymentTargetAdmin(ReadOnlyAdmin):
    list_display = ["id", "domain", "truststore_type", "kind", "path", "enabled"]
    list_filter = ["truststore_type", "kind", "enabled", "domain"]
    search_fields = ["name", "path"]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["id", "request", "target", "state", "attempts", "updated_at"]
    list_filter = ["state"]
