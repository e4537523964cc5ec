"""Truststore requests in the admin, read-only: every change goes through
truststores.services and the approval engine, never an edited row. Deployment targets are
configured here, and only here, by admins: they name files the worker writes and commands it
runs, which is not something to open to an API token. Each change is an audit event."""

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin_mixins import AuditedAdminMixin, ReadOnlyAdmin
from config.errors import Conflict, reason_of
from truststores import deploy
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
    actions = ["retry_deployment"]

    @admin.action(description="Retry the deployment (approved requests)")
    def retry_deployment(self, request: HttpRequest, queryset: QuerySet[TruststoreRequest]) -> None:
        user = request.user
        assert isinstance(user, User)  # the admin site lets only staff users in
        for item in queryset.select_related("domain"):
            try:
                deploy.retry(item, user, "from the admin")
            except (PermissionDenied, Conflict) as exc:
                self.message_user(request, f"#{item.pk}: {reason_of(exc)}", messages.ERROR)
            else:
                self.message_user(request, f"#{item.pk}: deployment queued", messages.SUCCESS)


@admin.register(DeploymentTarget)
class DeploymentTargetAdmin(AuditedAdminMixin):
    list_display = ["id", "domain", "truststore_type", "name", "kind", "path", "enabled"]
    list_filter = ["truststore_type", "kind", "enabled", "domain"]
    search_fields = ["name", "path"]
    fields = ["domain", "truststore_type", "name", "kind", "path", "reload_command", "enabled"]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["id", "request", "target", "state", "attempts", "updated_at"]
    list_filter = ["state"]
