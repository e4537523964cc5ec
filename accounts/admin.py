from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.http import HttpRequest

from accounts.models import ApiToken
from accounts.services import create_token, revoke_token
from audit.admin_mixins import AuditedAdminMixin


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdminMixin, admin.ModelAdmin[ApiToken]):
    list_display = [
        "prefix",
        "name",
        "user",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["user", "name", "expires_at", "revoked_at", "prefix", "created_at", "last_used_at"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form: object, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        assert isinstance(request.user, User)
        # New tokens are minted by the service; the key is shown once, here.
        minted, key = create_token(
            obj.user, obj.name, expires_at=obj.expires_at, actor=request.user
        )
        obj.pk, obj.digest, obj.prefix = minted.pk, minted.digest, minted.prefix
        obj._state.adding = False
        messages.warning(request, f"The new token is {key} — copy it now, it is not shown again.")

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: object) -> None:
        for token in queryset:  # type: ignore[attr-defined]
            revoke_token(token, actor=request.user)
