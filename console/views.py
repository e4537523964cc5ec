"""Server-rendered pages for RA officers, approvers, operators and auditors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.roles import Perm, domains_with, has_perm
from approvals.kinds import registered as registered_kinds
from approvals.models import ApprovalRequest
from approvals.services import approvals_count, approve, cancel, may_decide, reject
from config.errors import Conflict, reason_of
from console import health, views_estate_lists, views_truststores
from truststores.estate.changes import KIND as ESTATE_KIND
from truststores.services import KIND as TRUSTSTORE_KIND


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": health.database(), "broker": health.broker()}
    ok = all(v is None for v in checks.values())
    return JsonResponse(
        {
            "status": "ok" if ok else "unavailable",
            "checks": {k: v or "ok" for k, v in checks.items()},
        },
        status=200 if ok else 503,
    )


def _pending_for(request: HttpRequest, kind: str = "") -> list[ApprovalRequest]:
    pending = ApprovalRequest.objects.filter(
        state=ApprovalRequest.State.PENDING,
        domain__in=domains_with(request.user, Perm.DOMAIN_VIEW),
    )
    if kind:
        pending = pending.filter(kind=kind)
    pending = pending.select_related("domain", "submitter").order_by("created_at")[:200]
    return [r for r in pending if may_decide(r, request.user) is None]


@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    kinds = sorted(k.name for k in registered_kinds())
    kind = request.GET.get("kind", "")
    if kind not in kinds:
        kind = ""
    return render(
        request,
        "console/approvals.html",
        {"pending": _pending_for(request, kind), "kinds": kinds, "kind": kind},
    )


@login_required
def approval_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(ApprovalRequest.objects.select_related("domain", "submitter"), pk=pk)
    if not has_perm(request.user, Perm.DOMAIN_VIEW, item.domain):
        raise PermissionDenied(f"you hold no role in domain {item.domain.slug}")
    if request.method == "POST":
        return _decide(request, item)
    if item.kind == TRUSTSTORE_KIND:
        # The truststore request's page has the validation table and the comparison beside
        # the same decision buttons: approvers see everything in one place.
        target = views_truststores.approval_redirect(item.pk)
        if target is not None:
            return redirect(target)
    return render(
        request,
        "console/approval_detail.html",
        {
            "item": item,
            "decisions": item.decisions.select_related("approver"),
            "approvals": approvals_count(item),
            "cannot_decide": may_decide(item, request.user),
            "can_cancel": item.is_pending and item.submitter_id == request.user.pk,
            # An estate change: its list's page shows the versions and the CAs it touches.
            "subject_link": views_estate_lists.approval_link(item.pk)
            if item.kind == ESTATE_KIND
            else None,
        },
    )


def _decide(request: HttpRequest, item: ApprovalRequest) -> HttpResponse:
    verb = request.POST.get("decision", "")
    comment = request.POST.get("comment", "")[:2000]
    deciders: dict[str, Callable[[int, Any, str], ApprovalRequest]] = {
        "approve": approve,
        "reject": reject,
        "cancel": cancel,
    }
    if verb not in deciders:
        messages.error(request, "Unknown decision.")
    else:
        try:
            deciders[verb](item.pk, request.user, comment)
        except (PermissionDenied, ValidationError, Conflict) as exc:
            messages.error(request, reason_of(exc))
        else:
            messages.success(request, f"Request #{item.pk}: {verb} recorded.")
    return redirect("console:approval", pk=item.pk)
