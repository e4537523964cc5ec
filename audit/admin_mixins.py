"""Admin changes are state changes too: each save and delete writes an audit event in the
admin's own transaction (Django wraps change and delete views in one)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from audit.services import record


class AuditedAdminMixin(admin.ModelAdmin[Any]):
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        verb = "changed" if change else "created"
        fields = list(form.changed_data) if form is not None else []
        self._record(request, obj, verb, {"fields": fields, "via": "admin"})

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._record(request, obj, "deleted", {"repr": str(obj), "via": "admin"})
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        for obj in queryset:
            self._record(request, obj, "deleted", {"repr": str(obj), "via": "admin"})
        super().delete_queryset(request, queryset)

    def _record(self, request: HttpRequest, obj: Any, verb: str, details: dict[str, Any]) -> None:
        from pki.models import Domain

        domain = obj if isinstance(obj, Domain) else getattr(obj, "domain", None)
        record(
            f"{obj._meta.label_lower}.{verb}",
            actor=request.user,
            domain=domain if isinstance(domain, Domain) else None,
            obj=obj,
            details=details,
        )


class ReadOnlyMixin:
    """For a ModelAdmin or an inline: shows the rows, never adds, changes or deletes one."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin[Any]):
    """Records that only the services write: the admin shows them, nothing more."""
