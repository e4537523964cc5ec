"""ACME in the admin: settings are edited here (audited); accounts, orders, authorizations,
challenges and nonces are shown read-only (the protocol writes them); early-renewal flags are
added here (RFC 9773) and audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin_mixins import AuditedAdminMixin, ReadOnlyAdmin
from enrollment.acme import eab
from enrollment.acme.models import (
    AcmeAccount,
    AcmeAuthorization,
    AcmeChallenge,
    AcmeNonce,
    AcmeOrder,
    AcmeSettings,
    ExternalAccountKey,
    RenewalFlag,
)


@admin.register(AcmeSettings)
class AcmeSettingsAdmin(AuditedAdminMixin, admin.ModelAdmin[AcmeSettings]):
    list_display = ["domain", "enabled", "profile", "eab_required"]


@admin.register(AcmeAccount)
class AcmeAccountAdmin(ReadOnlyAdmin):
    list_display = ["ident", "domain", "status", "created_at"]
    list_filter = ["status", "domain"]
    search_fields = ["ident", "thumbprint"]


@admin.register(AcmeOrder)
class AcmeOrderAdmin(ReadOnlyAdmin):
    list_display = ["ident", "account", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["ident"]


@admin.register(AcmeAuthorization)
class AcmeAuthorizationAdmin(ReadOnlyAdmin):
    list_display = ["ident", "identifier_value", "status", "expires"]
    search_fields = ["ident", "identifier_value"]


@admin.register(AcmeChallenge)
class AcmeChallengeAdmin(ReadOnlyAdmin):
    list_display = ["ident", "type", "status", "validated"]


@admin.register(AcmeNonce)
class AcmeNonceAdmin(ReadOnlyAdmin):
    list_display = ["value", "expires"]


@admin.register(RenewalFlag)
class RenewalFlagAdmin(AuditedAdminMixin, admin.ModelAdmin[RenewalFlag]):
    list_display = ["domain", "certificate", "ca", "explanation_url", "created_at"]
    raw_id_fields = ["certificate", "ca"]
    exclude = ["created_by"]

    def save_model(self, request: Any, obj: RenewalFlag, form: Any, change: bool) -> None:
        obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ExternalAccountKey)
class ExternalAccountKeyAdmin(ReadOnlyAdmin):
    """Keys are made with `manage.py acme_eab_key` (the HMAC key is shown once, there);
    here they are listed and revoked (a revoked key binds no new account)."""

    list_display = ["key_id", "domain", "comment", "account", "created_at", "revoked_at"]
    exclude = ["sealed_hmac_key"]
    actions = ["revoke_keys"]

    @admin.action(description="Revoke the selected keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ExternalAccountKey]) -> None:
        done = eab.revoke_keys(list(queryset), actor=request.user)
        self.message_user(request, f"{done} key(s) revoked")
