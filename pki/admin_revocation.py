"""Revocation records in the admin, read-only: revocations change through the revoke actions
on certificates (pki.services.revocation), CRLs and OCSP responses are made by Celery. A
responder's key reference is never shown."""

from __future__ import annotations

from django.contrib import admin

from audit.admin_mixins import ReadOnlyAdmin
from pki.models import Crl, CrlSeries, OcspResponder, OcspResponse, Revocation


@admin.register(Revocation)
class RevocationAdmin(ReadOnlyAdmin):
    list_display = ["serial", "ca", "reason", "revoked_at", "invalidity_date", "released_at"]
    list_filter = ["reason", "ca"]
    search_fields = ["serial", "requester"]
    list_select_related = ["ca"]
    date_hierarchy = "revoked_at"
    fields = readonly_fields = (
        "certificate",
        "ca",
        "serial",
        "reason",
        "revoked_at",
        "invalidity_date",
        "released_at",
        "revoked_by",
        "requester",
        "not_after",
        "updated_at",
    )


@admin.register(Crl)
class CrlAdmin(ReadOnlyAdmin):
    list_display = ["ca", "number", "delta", "base_number", "entries", "this_update", "next_update"]
    list_filter = ["delta", "ca"]
    list_select_related = ["ca"]
    fields = readonly_fields = (
        "ca",
        "number",
        "delta",
        "base_number",
        "entries",
        "sha256",
        "this_update",
        "next_update",
        "created_at",
    )


@admin.register(CrlSeries)
class CrlSeriesAdmin(ReadOnlyAdmin):
    """Each CA's CRL number and when its last complete CRL was built."""

    list_display = ["ca", "last_number", "last_full_number", "last_full_at", "pending_since"]
    list_select_related = ["ca"]
    fields = readonly_fields = (
        "ca",
        "last_number",
        "last_full_number",
        "last_full_at",
        "pending_since",
    )


@admin.register(OcspResponder)
class OcspResponderAdmin(ReadOnlyAdmin):
    list_display = ["ca", "serial", "key_algorithm", "not_before", "not_after"]
    list_filter = ["ca"]
    list_select_related = ["ca"]
    fields = readonly_fields = ("ca", "serial", "key_algorithm", "not_before", "not_after")


@admin.register(OcspResponse)
class OcspResponseAdmin(ReadOnlyAdmin):
    list_display = ["serial", "ca", "status", "this_update", "next_update"]
    list_filter = ["status", "ca"]
    search_fields = ["serial"]
    list_select_related = ["ca"]
    fields = readonly_fields = (
        "ca",
        "serial",
        "status",
        "this_update",
        "next_update",
        "updated_at",
    )
