"""The dashboard (issue 9, item 1): what needs a person now. Certificates expiring soon,
approvals waiting for me, CA health (validity left, CRL and OCSP freshness), recent audit
events, and the state of background jobs, which a small script refreshes in place."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.roles import Perm, domains_with
from approvals.models import ApprovalRequest
from audit import chain
from audit.models import AuditEvent, OutboxMessage
from console.users import request_user
from console.views import _pending_for
from console.views_cas import CaRow, _tree
from pki.models import CertificateAuthority, CrlSeries, Domain, IssuedCertificate
from truststores.models import TruststoreRequest

EXPIRING_DAYS = 30


def _health(domains: list[Domain]) -> list[CaRow]:
    """Active CAs only, with what an operator must act on first."""
    rows = [r for d in domains for r in _tree(d)]
    return [r for r in rows if r.ca.status == CertificateAuthority.Status.ACTIVE]


def jobs(domains: QuerySet[Domain] | list[Domain]) -> dict[str, Any]:
    """Counts of background work in the user's domains, as the dashboard shows them."""
    approvals = ApprovalRequest.objects.filter(domain__in=domains)
    swaps = TruststoreRequest.objects.filter(
        domain__in=domains, state=TruststoreRequest.State.APPROVED
    )
    return {
        "actionsQueued": approvals.filter(
            action_state__in=[
                ApprovalRequest.ActionState.QUEUED,
                ApprovalRequest.ActionState.RUNNING,
            ]
        ).count(),
        "actionsFailed": approvals.filter(action_state=ApprovalRequest.ActionState.FAILED).count(),
        "swapsRunning": swaps.filter(error="").count(),
        "swapsFailed": swaps.exclude(error="").count(),
        "crlsPending": CrlSeries.objects.filter(
            ca__domain__in=domains, pending_since__isnull=False
        ).count(),
        "outboxBacklog": OutboxMessage.objects.filter(
            dispatched_at__isnull=True, domain_slug__in=[d.slug for d in domains]
        ).count(),
        "auditUnsealed": chain.unsealed(),
        "done": False,
    }


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    domains = list(domains_with(user, Perm.DOMAIN_VIEW))
    audit_domains = domains_with(user, Perm.AUDIT_VIEW)
    soon = timezone.now() + timedelta(days=EXPIRING_DAYS)
    expiring = (
        IssuedCertificate.objects.filter(
            domain__in=domains,
            status=IssuedCertificate.Status.VALID,
            not_after__gt=timezone.now(),
            not_after__lte=soon,
        )
        .select_related("domain")
        .order_by("not_after")
    )
    mine = ApprovalRequest.objects.filter(submitter_id=user.pk).select_related("domain")
    context = {
        "domains": domains,
        "pending": _pending_for(request),
        "mine": mine.order_by("-created_at")[:10],
        "recent_events": AuditEvent.objects.filter(domain__in=audit_domains).order_by("-id")[:10],
        "expiring": expiring[:10],
        "expiring_count": expiring.count(),
        "expiring_days": EXPIRING_DAYS,
        "health": _health(domains),
        "jobs": jobs(domains),
    }
    return render(request, "console/dashboard.html", context)


@never_cache
@login_required
@require_GET
def dashboard_jobs(request: HttpRequest) -> JsonResponse:
    return JsonResponse(jobs(list(domains_with(request_user(request), Perm.DOMAIN_VIEW))))
