"""The audit log viewer (issue 9, item 7): filters (actor, domain, action, object, time),
an event's detail with its place in the hash chain, and the chain's verification on demand.

Who sees what: events of the domains where the user holds audit.view; events without a
domain (logins, admin changes of users) only for superusers, as in the API.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import Perm, domains_with
from audit import chain
from audit.models import AuditEvent
from audit.services import record
from console.users import request_user

PAGE_SIZE = 50
FILTERS = {  # query parameter → lookup
    "actor": "actor_name",
    "domain": "domain_slug",
    "action": "action__startswith",
    "object_type": "object_type",
    "object_id": "object_id",
}


def visible_events(user: User) -> QuerySet[AuditEvent]:
    domains = domains_with(user, Perm.AUDIT_VIEW)
    if not user.is_superuser and not domains.exists():
        raise PermissionDenied("the audit log needs audit.view in a domain")
    visible = Q(domain__in=domains)
    if user.is_superuser:
        visible |= Q(domain_slug="")
    return AuditEvent.objects.filter(visible)


def _day(value: str, end: bool) -> datetime | None:
    day = parse_date(value) if value else None
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.max if end else time.min))


def filtered(events: QuerySet[AuditEvent], params: dict[str, str]) -> QuerySet[AuditEvent]:
    for param, lookup in FILTERS.items():
        value = params.get(param, "").strip()
        if value:
            events = events.filter(**{lookup: value})
    since, until = _day(params.get("since", ""), False), _day(params.get("until", ""), True)
    if since:
        events = events.filter(time__gte=since)
    if until:
        events = events.filter(time__lte=until)
    return events


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    events = visible_events(user)
    params = {k: request.GET.get(k, "")[:200] for k in [*FILTERS, "since", "until"]}
    page = Paginator(filtered(events, params).order_by("-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context: dict[str, Any] = {
        "page": page,
        "params": params,
        "filter_query": urlencode({k: v for k, v in params.items() if v}),
        "domains": domains_with(user, Perm.AUDIT_VIEW).order_by("slug"),
        "unsealed": chain.unsealed(),
    }
    return render(request, "console/audit.html", context)


@login_required
@require_GET
def audit_event(request: HttpRequest, pk: int) -> HttpResponse:
    event = visible_events(request_user(request)).filter(pk=pk).first()
    if event is None:
        raise Http404("no such event")
    related = (
        visible_events(request_user(request))
        .filter(object_type=event.object_type, object_id=event.object_id)
        .exclude(pk=event.pk)
        .order_by("-id")[:20]
        if event.object_id
        else []
    )
    sealed_ok = bool(event.seq) and chain.hash_of(event) == event.hash
    context = {"event": event, "related": related, "sealed_ok": sealed_ok}
    return render(request, "console/audit_event.html", context)


@login_required
@require_POST
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Walk the whole chain now and show the result; the check itself is audited."""
    user = request_user(request)
    visible_events(user)  # the same gate as the log
    checked, broken = chain.verify()
    with transaction.atomic():  # an audit event goes in a transaction of its own change
        record(
            "audit.chain.verified",
            actor=user,
            details={
                "checked": checked,
                "break": str(broken) if broken else None,
                "via": "console",
            },
        )
    return render(
        request,
        "console/audit_verify.html",
        {"checked": checked, "broken": broken, "unsealed": chain.unsealed()},
    )
