"""CMP in the admin: the binding is edited here (audited); secrets, transactions, nonces and
protection keys are shown read-only (services and the protocol write them)."""

from __future__ import annotations

from django.contrib import admin

from audit.admin_mixins import AuditedAdminMixin, ReadOnlyAdmin
from enrollment.cmp.models import CmpConfig, CmpNonce, CmpProtectionKey, CmpSecret, CmpTransaction


@admin.register(CmpConfig)
class CmpConfigAdmin(AuditedAdminMixin, admin.ModelAdmin[CmpConfig]):
    list_display = ["domain", "enabled", "ir_profile", "cr_profile", "kur_profile"]


@admin.register(CmpSecret)
class CmpSecretAdmin(ReadOnlyAdmin):
    list_display = ["reference", "domain", "device", "created_at", "revoked_at"]
    list_filter = ["domain"]
    search_fields = ["reference"]
    exclude = ["sealed"]


@admin.register(CmpTransaction)
class CmpTransactionAdmin(ReadOnlyAdmin):
    list_display = ["transaction_id", "domain", "operation", "state", "sender", "created_at"]
    list_filter = ["state", "operation", "domain"]


@admin.register(CmpNonce)
class CmpNonceAdmin(ReadOnlyAdmin):
    list_display = ["key", "expires"]


@admin.register(CmpProtectionKey)
class CmpProtectionKeyAdmin(ReadOnlyAdmin):
    list_display = ["domain", "serial", "ca", "not_after"]
    exclude = ["key_ref", "der"]
