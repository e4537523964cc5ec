from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest

from approvals import services
from approvals.models import ApprovalRequest, Decision
from audit.admin_mixins import ReadOnlyAdmin
from config.errors import Conflict, reason_of


class DecisionInline(admin.TabularInline[Decision, ApprovalRequest]):
    model = Decision
    extra = 0
    can_delete = False
    readonly_fields = ["approver", "verdict", "comment", "decided_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    """Read-only records; the approve action goes through the engine's rules like any path."""

    list_display = [
        "id",
        "kind",
        "domain",
        "summary",
        "submitter",
        "state",
        "action_state",
        "created_at",
    ]
    list_filter = ["state", "kind", "action_state", "domain"]
    search_fields = ["summary", "subject_id", "submitter__username"]
    inlines = [DecisionInline]
    actions = ["approve_selected"]

    @admin.action(description="Approve the selected requests (as me)")
    def approve_selected(self, request: HttpRequest, queryset: Any) -> None:
        for item in queryset:
            try:
                services.approve(item.pk, request.user, "approved in the admin")
            except (PermissionDenied, ValidationError, Conflict) as exc:
                self.message_user(request, f"#{item.pk}: {reason_of(exc)}", messages.ERROR)
            else:
                self.message_user(request, f"#{item.pk}: approval recorded", messages.SUCCESS)


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["id", "request", "approver", "verdict", "decided_at"]
    list_filter = ["verdict", "request__kind"]
    search_fields = ["approver__username", "comment"]
