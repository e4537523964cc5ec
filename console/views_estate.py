"""Trust across the estate in the console (issue 10): the overview, the inventory (filters,
a consumer's detail with its report token shown once, CSV import / export), "who trusts
this CA?" and the maturity page. Trust lists and removal plans: console/views_estate_lists.

Rules live in truststores.estate's services; views pick what to show. Everything is scoped
by the domains where the person holds domain.view: another domain's object is a 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import Perm, domains_with, has_perm
from config.errors import Conflict, reason_of
from console.users import request_user
from pki.models import Domain
from truststores.estate import inventory, maturity, queries
from truststores.estate.models import (
    Consumer,
    ConsumerCategory,
    ConsumerKind,
    DriftFinding,
    RemovalPlan,
    TrustedCA,
    TrustList,
)

PAGE_SIZE = 50


def visible(user: User) -> QuerySet[Domain]:
    return domains_with(user, Perm.DOMAIN_VIEW).order_by("slug")


def chosen_domain(request: HttpRequest, user: User) -> tuple[Domain, list[Domain]]:
    """The domain a page shows (?domain=, else the first the person sees)."""
    domains = list(visible(user))
    if not domains:
        raise PermissionDenied("the estate is shown to people holding a role in a domain")
    slug = request.GET.get("domain") or request.POST.get("domain") or domains[0].slug
    domain = next((d for d in domains if d.slug == slug), None)
    if domain is None:
        raise Http404("no such domain")
    return domain, domains


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    domain, domains = chosen_domain(request, user)
    now = timezone.now()
    consumers = Consumer.objects.filter(domain=domain)
    open_findings = DriftFinding.objects.filter(domain=domain, resolved_at__isnull=True)
    score = maturity.score(domain, now)
    return render(
        request,
        "console/estate_overview.html",
        {
            "domain": domain,
            "domains": domains,
            "consumers": consumers.count(),
            "by_category": consumers.values("category")
            .annotate(n=Count("id"))
            .order_by("category"),
            "lists": TrustList.objects.filter(domain=domain).count(),
            "drift": open_findings.values("kind").annotate(n=Count("id")).order_by("kind"),
            "drifting": open_findings.values("consumer_id").distinct().count(),
            "plans": RemovalPlan.objects.filter(domain=domain).exclude(
                state__in=[RemovalPlan.State.COMPLETED, RemovalPlan.State.ROLLED_BACK]
            ),
            "score": score,
        },
    )


def _filtered(request: HttpRequest, domain: Domain) -> tuple[QuerySet[Consumer], dict[str, str]]:
    qs = Consumer.objects.filter(domain=domain).select_related("trust_list")
    chosen: dict[str, str] = {}
    for name, values in (("category", ConsumerCategory.values), ("kind", ConsumerKind.values)):
        value = request.GET.get(name, "")
        if value in values:
            qs = qs.filter(**{name: value})
            chosen[name] = value
    slug = request.GET.get("list", "")
    if slug:
        qs = qs.filter(trust_list__slug=slug)
        chosen["list"] = slug
    if request.GET.get("drift") == "1":
        # Exists, not findings__resolved_at__isnull: on a reverse relation that is a LEFT
        # JOIN, which a consumer without any finding would pass too.
        open_ = DriftFinding.objects.filter(consumer=OuterRef("pk"), resolved_at__isnull=True)
        qs = qs.filter(Exists(open_))
        chosen["drift"] = "1"
    text = request.GET.get("q", "")[:200]
    if text:
        qs = qs.filter(name__icontains=text)
        chosen["q"] = text
    qs = qs.annotate(open_findings=Count("findings", filter=Q(findings__resolved_at__isnull=True)))
    return qs, chosen


@login_required
@require_http_methods(["GET", "POST"])
def consumers(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    domain, domains = chosen_domain(request, user)
    if request.method == "POST":  # CSV import
        upload = request.FILES.get("csv")
        data = upload.read(inventory.MAX_CSV_BYTES + 1) if upload else b""
        try:
            result = inventory.import_csv(domain, user, inventory.decode_csv(data))
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, f"Nothing imported: {reason_of(exc)}")
        else:
            messages.success(
                request,
                f"Imported: {len(result.created)} created, {len(result.updated)} updated, "
                f"{result.unchanged} unchanged.",
            )
        return redirect(f"{request.path}?{urlencode({'domain': domain.slug})}")
    qs, chosen = _filtered(request, domain)
    page = Paginator(qs.order_by("name"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/estate_consumers.html",
        {
            "domain": domain,
            "domains": domains,
            "page": page,
            "chosen": chosen,
            "categories": ConsumerCategory.choices,
            "kinds": ConsumerKind.choices,
            "lists": TrustList.objects.filter(domain=domain),
            "filter_query": urlencode({"domain": domain.slug, **chosen}),
            "can_manage": has_perm(user, Perm.ESTATE_MANAGE, domain),
        },
    )


@login_required
@require_GET
def consumers_csv(request: HttpRequest) -> HttpResponse:
    domain, _ = chosen_domain(request, request_user(request))
    response = HttpResponse(inventory.export_csv(domain).encode(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="consumers-{domain.slug}.csv"'
    return response


def consumer_for(user: User, pk: int) -> Consumer:
    found = (
        Consumer.objects.select_related("domain", "trust_list__current_version")
        .filter(pk=pk, domain__in=visible(user))
        .first()
    )
    if found is None:
        raise Http404("no such consumer")
    return found


@login_required
@require_http_methods(["GET", "POST"])
def consumer_detail(request: HttpRequest, pk: str) -> HttpResponse:
    user = request_user(request)
    consumer = consumer_for(user, int(pk))
    token = ""
    if request.method == "POST" and request.POST.get("action") == "token":
        try:
            token = inventory.issue_token(consumer, user)
        except (PermissionDenied, ValidationError, Conflict) as exc:
            messages.error(request, f"Not done: {reason_of(exc)}")
            return redirect("console:estate-consumer", pk=consumer.pk)
        # Shown in this response only (never stored in clear, never redirected with).
        messages.success(request, "New report token issued; the previous one stopped working.")
    observed = getattr(consumer, "observed", None)
    reported = set(observed.fingerprints) if observed else set()
    wanted: dict[str, TrustedCA] = {}
    if consumer.trust_list and consumer.trust_list.current_version:
        wanted = {ca.fingerprint: ca for ca in consumer.trust_list.current_version.cas.all()}
    known = {
        ca.fingerprint: ca
        for ca in TrustedCA.objects.filter(domain=consumer.domain, fingerprint__in=reported)
    }
    rows = [
        {
            "fingerprint": fp,
            "ca": wanted.get(fp) or known.get(fp),
            "listed": fp in wanted,
            "reported": fp in reported,
        }
        for fp in sorted(set(wanted) | reported)
    ]
    return render(
        request,
        "console/estate_consumer.html",
        {
            "consumer": consumer,
            "observed": observed,
            "rows": rows,
            "findings": consumer.findings.order_by("resolved_at", "-last_seen")[:200],
            "token": token,
            "can_manage": has_perm(user, Perm.ESTATE_MANAGE, consumer.domain),
        },
    )


@login_required
@require_GET
def who_trusts(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    domain, domains = chosen_domain(request, user)
    given = request.GET.get("fingerprint", "").strip() or request.GET.get("ca", "")
    answer, error = None, ""
    if given:
        try:
            answer = queries.who_trusts([domain.pk], given)
        except ValidationError as exc:
            error = reason_of(exc)
    return render(
        request,
        "console/estate_who_trusts.html",
        {
            "domain": domain,
            "domains": domains,
            "cas": TrustedCA.objects.filter(domain=domain),
            "given": given,
            "answer": answer,
            "error": error,
            "by_list": answer.by_list[:500] if answer else [],
            "by_report": answer.by_report[:500] if answer else [],
            "certificates": answer.certificates.order_by("not_after")[:500] if answer else [],
            "plans": RemovalPlan.objects.filter(domain=domain, ca__fingerprint=answer.fingerprint)
            if answer
            else [],
            "can_plan": has_perm(user, Perm.ESTATE_MANAGE, domain),
        },
    )


@login_required
@require_GET
def maturity_page(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    domain, domains = chosen_domain(request, user)
    score = maturity.score(domain, timezone.now())
    context: dict[str, Any] = {
        "domain": domain,
        "domains": domains,
        "score": score,
        "levels": score.by_level(),
        "names": maturity.NAMES,
    }
    return render(request, "console/estate_maturity.html", context)
