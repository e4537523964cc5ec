"""Trust lists and removal plans in the console (issue 10): a list's versions, the diff
between two, downloads in each export format, proposing an addition (PEM upload) or a
removal (naming a plan), rollback; removal plans with their dependencies and timeline,
run-due-now and rollback. Decisions on changes are made in the approvals queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import Perm, domains_with, has_perm
from config.errors import Conflict, reason_of
from console.users import request_user
from console.views_estate import chosen_domain, visible
from truststores.estate import catalog, changes, exports, removal
from truststores.estate.models import (
    RemovalPlan,
    TrustedCA,
    TrustList,
    TrustListChange,
    TrustListVersion,
)

Refusal = (PermissionDenied, ValidationError, Conflict)


@login_required
@require_GET
def trust_lists(request: HttpRequest) -> HttpResponse:
    domain, domains = chosen_domain(request, request_user(request))
    found = TrustList.objects.filter(domain=domain).select_related("current_version")
    rows = [
        {"list": t, "cas": len(catalog.version_fingerprints(t.current_version)),
         "consumers": t.consumers.count(),
         "pending": t.changes.filter(state=TrustListChange.State.PENDING).count()}
        for t in found
    ]  # fmt: skip
    return render(
        request, "console/estate_lists.html", {"domain": domain, "domains": domains, "rows": rows}
    )


def list_for(user: User, pk: int) -> TrustList:
    found = (
        TrustList.objects.select_related("domain", "current_version")
        .filter(pk=pk, domain__in=visible(user))
        .first()
    )
    if found is None:
        raise Http404("no such trust list")
    return found


def _version(trust_list: TrustList, number: str) -> TrustListVersion | None:
    if not number.isdigit() or len(number) > 9:
        return trust_list.current_version
    return TrustListVersion.objects.filter(trust_list=trust_list, number=int(number)).first()


@login_required
@require_http_methods(["GET", "POST"])
def trust_list_detail(request: HttpRequest, pk: str) -> HttpResponse:
    user = request_user(request)
    trust_list = list_for(user, int(pk))
    if request.method == "POST":
        return _act_on_list(request, user, trust_list)
    versions = list(trust_list.versions.select_related("created_by", "restored_from"))
    a = _version(trust_list, request.GET.get("a", ""))
    b = _version(trust_list, request.GET.get("b", ""))
    if a is not None and b is not None and "a" not in request.GET and a.parent_id:
        a = a.parent  # default diff: the current version against its parent
    diff: list[tuple[str, TrustedCA]] = []
    if a is not None and b is not None:
        old, new = set(a.cas.all()), set(b.cas.all())
        diff = [("removed", ca) for ca in old - new] + [("added", ca) for ca in new - old]
    domain = trust_list.domain
    return render(
        request,
        "console/estate_list.html",
        {
            "trust_list": trust_list,
            "current_cas": catalog.version_cas(trust_list.current_version)
            if trust_list.current_version
            else [],
            "versions": versions,
            "a": a,
            "b": b,
            "diff": diff,
            "formats": [f.value for f in exports.Format],
            "changes": trust_list.changes.select_related("proposed_by", "approval")[:50],
            "plans": RemovalPlan.objects.filter(
                trust_lists=trust_list, state__in=list(changes.PLAN_STATES_FOR_REMOVAL)
            ).select_related("ca"),
            # Drafts cannot carry a removal yet (changes.propose_remove): they are announced
            # first, by their announce step.
            "drafts": RemovalPlan.objects.filter(
                trust_lists=trust_list, state=RemovalPlan.State.DRAFT
            ).select_related("ca"),
            "can_manage": has_perm(user, Perm.ESTATE_MANAGE, domain),
            "can_approve": has_perm(user, Perm.ESTATE_APPROVE, domain),
        },
    )


def _act_on_list(request: HttpRequest, user: User, trust_list: TrustList) -> HttpResponse:
    action = request.POST.get("action", "")
    reason = request.POST.get("reason", "")[:2000]

    def add() -> str:
        upload = request.FILES.get("pem")
        data = upload.read() if upload else request.POST.get("pem_text", "").encode()
        cas = catalog.import_cas(trust_list.domain, data)
        change = changes.propose_add(trust_list, cas, user, reason)
        return f"addition proposed (change #{change.pk}): one approval applies it"

    def remove() -> str:
        plan_id = request.POST.get("plan", "")
        plan = RemovalPlan.objects.filter(
            domain=trust_list.domain, pk=int(plan_id) if plan_id.isdigit() else 0
        ).first()
        cas = [plan.ca] if plan else []
        change = changes.propose_remove(trust_list, cas, user, plan, reason)
        return f"removal proposed (change #{change.pk}): two approvals apply it"

    def rollback() -> str:
        target = _version(trust_list, request.POST.get("version", "x"))
        if target is None or "version" not in request.POST:
            raise ValidationError("choose a version")
        version = changes.rollback(trust_list, target, user, reason)
        return f"rolled back: v{version.number} holds the CAs of v{target.number}"

    actions: dict[str, Callable[[], str]] = {"add": add, "remove": remove, "rollback": rollback}
    if action not in actions:
        messages.error(request, "Unknown action.")
    else:
        try:
            done = actions[action]()
        except Refusal as exc:
            messages.error(request, f"Not done: {reason_of(exc)}")
        else:
            messages.success(request, f"List {trust_list.slug}: {done}.")
    return redirect("console:estate-list", pk=trust_list.pk)


@login_required
@require_GET
def trust_list_export(request: HttpRequest, pk: str) -> HttpResponse:
    trust_list = list_for(request_user(request), int(pk))
    version = _version(trust_list, request.GET.get("version", ""))
    if version is None:
        raise Http404("no such version")
    try:
        result = exports.export(version, request.GET.get("format", "pem"))
    except ValidationError as exc:
        return HttpResponse(reason_of(exc), status=400, content_type="text/plain")
    response = HttpResponse(result.content, content_type=result.content_type)
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    return response


@login_required
@require_GET
def plans(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    domain, domains = chosen_domain(request, user)
    found = RemovalPlan.objects.filter(domain=domain).select_related("ca", "created_by")
    return render(
        request,
        "console/estate_plans.html",
        {
            "domain": domain,
            "domains": domains,
            "plans": found[:200],
            "can_manage": has_perm(user, Perm.ESTATE_MANAGE, domain),
        },
    )


def _date(text: str) -> datetime | None:
    day = parse_date(text) if text else None
    if day is None:
        return None
    return timezone.make_aware(datetime(day.year, day.month, day.day, 9, 0))


@login_required
@require_http_methods(["GET", "POST"])
def plan_new(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    domains = list(domains_with(user, Perm.ESTATE_MANAGE).order_by("slug"))
    if not domains:
        raise PermissionDenied(f"a removal plan needs {Perm.ESTATE_MANAGE.value}")
    slug = request.GET.get("domain") or request.POST.get("domain") or domains[0].slug
    domain = next((d for d in domains if d.slug == slug), domains[0])
    cas = TrustedCA.objects.filter(domain=domain, versions__isnull=False).distinct()
    if request.method == "POST":
        post = request.POST
        ca = cas.filter(pk=int(post["ca"]) if post.get("ca", "").isdigit() else 0).first()
        replacements = list(
            TrustedCA.objects.filter(
                domain=domain,
                pk__in=[int(v) for v in post.getlist("replacements") if v.isdigit()][:50],
            )
        )
        try:
            if ca is None:
                raise ValidationError("choose the CA to remove")
            plan = removal.create_plan(
                domain,
                user,
                ca,
                now=timezone.now(),
                title=post.get("title", "")[:200],
                reason=post.get("reason", RemovalPlan.Reason.PLANNED),
                description=post.get("description", "")[:4000],
                announce_at=_date(post.get("announce_on", "")),
                replacement_cas=replacements,
            )
        except Refusal as exc:
            messages.error(request, f"No plan made: {reason_of(exc)}")
        else:
            messages.success(request, f"Removal plan #{plan.pk} made: see its timeline.")
            return redirect("console:estate-plan", pk=plan.pk)
    return render(
        request,
        "console/estate_plan_new.html",
        {
            "domain": domain,
            "domains": domains,
            "cas": cas,
            "reasons": RemovalPlan.Reason.choices,
            # ?ca=<pk> from "Plan its removal" on the who-trusts page
            "chosen_ca": int(ca_pk) if (ca_pk := request.GET.get("ca", "")).isdigit() else None,
        },
    )


def plan_for(user: User, pk: int) -> RemovalPlan:
    found = (
        RemovalPlan.objects.select_related("domain", "ca", "created_by")
        .filter(pk=pk, domain__in=visible(user))
        .first()
    )
    if found is None:
        raise Http404("no such removal plan")
    return found


@login_required
@require_http_methods(["GET", "POST"])
def plan_detail(request: HttpRequest, pk: str) -> HttpResponse:
    user = request_user(request)
    plan = plan_for(user, int(pk))
    if request.method == "POST":
        return _act_on_plan(request, user, plan)
    now = timezone.now()
    steps = removal.ordered_steps(plan)
    context: dict[str, Any] = {
        "plan": plan,
        "deps": plan.dependencies,
        "steps": steps,
        "now": now,
        "due_now": [s for s in steps if s.state in ("pending", "failed") and s.due_at <= now],
        "changes": plan.changes.select_related("trust_list", "approval"),
        "still_reporting": removal.reporting_the_ca(plan).count(),
        "can_manage": has_perm(user, Perm.ESTATE_MANAGE, plan.domain),
        "can_approve": has_perm(user, Perm.ESTATE_APPROVE, plan.domain),
        "active": plan.state in (*removal.ACTIVE, RemovalPlan.State.COMPLETED),
    }
    return render(request, "console/estate_plan.html", context)


def _act_on_plan(request: HttpRequest, user: User, plan: RemovalPlan) -> HttpResponse:
    action = request.POST.get("action", "")
    try:
        if action == "run_due":
            if not has_perm(user, Perm.ESTATE_MANAGE, plan.domain):
                raise PermissionDenied(f"running steps needs {Perm.ESTATE_MANAGE.value}")
            changed = removal.run_due(plan.pk, timezone.now())
            done = f"{len(changed)} step(s) changed" if changed else "nothing was due"
        elif action == "rollback":
            removal.rollback(plan, user, request.POST.get("reason", "")[:2000], timezone.now())
            done = "rolled back: the CA is back on its lists"
        else:
            raise ValidationError("unknown action")
    except Refusal as exc:
        messages.error(request, f"Not done: {reason_of(exc)}")
    else:
        messages.success(request, f"Removal plan #{plan.pk}: {done}.")
    return redirect("console:estate-plan", pk=plan.pk)


def approval_link(approval_id: int) -> str | None:
    """The approvals queue links an estate change to its list's page (what changes)."""
    found = TrustListChange.objects.filter(approval_id=approval_id).first()
    if found is None:
        return None
    return reverse("console:estate-list", kwargs={"pk": found.trust_list_id})
