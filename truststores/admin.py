"""Truststore requests in the admin, read-only: every change goes through
truststores.services and the approval engine, never an edited row."""

from django.contrib import admin

from audit.admin_mixins import ReadOnlyAdmin
from truststores.models import TruststoreRequest


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
