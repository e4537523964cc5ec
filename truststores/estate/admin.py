"""The estate in the admin. Inventory rows (consumers, trust lists) are edited here by
admins, each change audited; versions, changes, reports, findings and removal plans are
records the services write (approvals, the drift job, the removal workflow), shown
read-only so no admin edit bypasses two-person control."""

from __future__ import annotations

from django.contrib import admin

from audit.admin_mixins import AuditedAdminMixin, ReadOnlyAdmin, ReadOnlyMixin
from truststores.estate.models import (
    Consumer,
    DriftFinding,
    ObservedState,
    RemovalPlan,
    RemovalStep,
    TrustedCA,
    TrustList,
    TrustListChange,
    TrustListEntry,
    TrustListVersion,
)


@admin.register(Consumer)
class ConsumerAdmin(AuditedAdminMixin):
    list_display = [
        "name",
        "domain",
        "kind",
        "category",
        "distribution",
        "owner_team",
        "client_base",
        "trust_list",
        "last_report_at",
    ]
    list_filter = ["kind", "category", "distribution", "client_base", "domain"]
    search_fields = ["name", "owner_team", "description"]
    readonly_fields = ["token_prefix", "token_issued_at", "last_report_at"]


@admin.register(TrustList)
class TrustListAdmin(AuditedAdminMixin):
    list_display = ["slug", "name", "domain", "scope", "current_version"]
    list_filter = ["scope", "domain"]
    search_fields = ["slug", "name"]
    # The current version moves only through approved changes and rollbacks.
    readonly_fields = ["current_version"]


@admin.register(TrustedCA)
class TrustedCAAdmin(ReadOnlyAdmin):
    list_display = ["subject", "fingerprint", "domain", "not_after", "self_signed"]
    list_filter = ["domain", "self_signed"]
    search_fields = ["subject", "fingerprint"]
    exclude = ["der"]


class EntryInline(ReadOnlyMixin, admin.TabularInline[TrustListEntry, TrustListVersion]):
    model = TrustListEntry
    extra = 0


@admin.register(TrustListVersion)
class TrustListVersionAdmin(ReadOnlyAdmin):
    list_display = ["trust_list", "number", "change", "restored_from", "created_by", "created_at"]
    list_filter = ["trust_list"]
    inlines = [EntryInline]


@admin.register(TrustListEntry)
class TrustListEntryAdmin(ReadOnlyAdmin):
    list_display = ["version", "ca"]


@admin.register(TrustListChange)
class TrustListChangeAdmin(ReadOnlyAdmin):
    list_display = ["id", "trust_list", "action", "state", "proposed_by", "created_at"]
    list_filter = ["action", "state", "domain"]


@admin.register(ObservedState)
class ObservedStateAdmin(ReadOnlyAdmin):
    list_display = ["consumer", "reported_at", "reporter"]
    search_fields = ["consumer__name"]


@admin.register(DriftFinding)
class DriftFindingAdmin(ReadOnlyAdmin):
    list_display = ["consumer", "kind", "fingerprint", "first_seen", "last_seen", "resolved_at"]
    list_filter = ["kind", "domain"]
    search_fields = ["consumer__name", "fingerprint"]


class StepInline(ReadOnlyMixin, admin.TabularInline[RemovalStep, RemovalPlan]):
    model = RemovalStep
    extra = 0


@admin.register(RemovalPlan)
class RemovalPlanAdmin(ReadOnlyAdmin):
    list_display = ["id", "title", "domain", "ca", "reason", "state", "remove_at"]
    list_filter = ["state", "reason", "domain"]
    inlines = [StepInline]


@admin.register(RemovalStep)
class RemovalStepAdmin(ReadOnlyAdmin):
    list_display = ["plan", "kind", "due_at", "state", "done_at"]
    list_filter = ["kind", "state"]
