from django.contrib import admin
from django.http import HttpRequest

from audit.admin_mixins import AuditedAdminMixin, ReadOnlyAdmin
from audit.models import AuditEvent, ChainHead, OutboxMessage, WebhookDelivery, WebhookEndpoint


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "seq",
        "time",
        "actor_name",
        "domain_slug",
        "action",
        "object_type",
        "object_id",
    ]
    list_filter = ["action", "domain_slug", "object_type"]
    search_fields = ["action", "actor_name", "object_id", "domain_slug"]
    date_hierarchy = "time"


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "topic", "domain_slug", "created_at", "dispatched_at"]
    list_filter = ["topic", "domain_slug"]
    search_fields = ["topic"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "message",
        "endpoint",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    list_filter = ["state", "endpoint"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AuditedAdminMixin, admin.ModelAdmin[WebhookEndpoint]):
    """Endpoints are made by `manage.py create_webhook` (which shows the secret once);
    here an admin pauses, re-targets or removes them."""

    list_display = ["name", "url", "domain", "topics", "active", "created_at"]
    list_filter = ["active", "domain"]
    search_fields = ["name", "url"]
    fields = ["name", "url", "topics", "domain", "active"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ChainHead)
class ChainHeadAdmin(ReadOnlyAdmin):
    list_display = ["id", "seq", "hash"]
