"""Truststores in the console (issue 5, item 7): a page per type with the deployed bundle,
the requests and the deployment targets; a new request; a request's detail with its
validation, comparison, deployments and decisions.

Every rule is truststores.services', truststores.deploy's and the approval engine's (who may
submit, decide, cancel, retry; what a bundle may hold): the views choose what to show and pass
the logged-in person on. Requests are scoped by domain: another domain's request is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import Perm, domains_with, has_perm
from approvals.models import Decision
from approvals.services import approvals_count, may_decide
from config.errors import Conflict, reason_of
from console.forms_truststores import TruststoreForm
from console.users import request_user
from pki.models import Domain
from truststores import deploy, services
from truststores.models import Deployment, DeploymentTarget, TruststoreRequest, TruststoreType

PAGE_SIZE = 50
PEM_TYPE = "application/pem-certificate-chain"
State = TruststoreRequest.State


def may_see_truststores(user: User) -> bool:
    return bool(user.is_superuser or domains_with(user, Perm.DOMAIN_VIEW).exists())


def _visible(user: User) -> QuerySet[Domain]:
    return domains_with(user, Perm.DOMAIN_VIEW).order_by("slug")


def _request_for(user: User, pk: int) -> TruststoreRequest:
    found = (
        TruststoreRequest.objects.select_related("domain", "submitted_by", "approval")
        .filter(pk=pk, domain__in=_visible(user))
        .first()
    )
    if found is None:
        raise Http404("no such truststore request")
    return found


def _approvers(item: TruststoreRequest) -> list[Decision]:
    if item.approval is None:
        return []
    decisions = item.approval.decisions.filter(verdict=Decision.Verdict.APPROVE)
    return list(decisions.select_related("approver"))


def _targets(domain: Domain, truststore_type: str) -> list[dict[str, Any]]:
    """The type's deployment targets, each with its latest deployment (read-only here)."""
    rows = []
    for target in DeploymentTarget.objects.filter(domain=domain, truststore_type=truststore_type):
        last = (
            Deployment.objects.filter(target=target)
            .select_related("request")
            .order_by("-updated_at", "-id")
            .first()
        )
        rows.append({"target": target, "last": last})
    return rows


@login_required
@require_GET
def truststores(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    domains = list(_visible(user))
    if not domains:
        raise PermissionDenied("truststores are shown to people holding a role in a domain")
    truststore_type = request.GET.get("type", "")
    if truststore_type not in TruststoreType.values:
        truststore_type = TruststoreType.MTLS.value
    slug = request.GET.get("domain") or domains[0].slug
    domain = next((d for d in domains if d.slug == slug), None)
    if domain is None:
        raise Http404("no such domain")
    state = request.GET.get("state", "")
    found = services.for_domain(domain).filter(truststore_type=truststore_type)
    if state in State.values:
        found = found.filter(state=state)
    else:
        state = ""
    page = Paginator(found.select_related("submitted_by"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    current = services.deployed(domain, truststore_type)
    query = {"type": truststore_type, "domain": domain.slug}
    return render(
        request,
        "console/truststores.html",
        {
            "types": TruststoreType.values,
            "type": truststore_type,
            "domains": domains,
            "domain": domain,
            "states": State.values,
            "state": state,
            "page": page,
            "filter_query": urlencode({**query, **({"state": state} if state else {})}),
            "current": current,
            "current_approvers": _approvers(current) if current else [],
            "current_certificates": (
                current.validation_result.get("certificates", []) if current else []
            ),
            "targets": _targets(domain, truststore_type),
            "can_submit": has_perm(user, Perm.TRUSTSTORES_SUBMIT, domain),
            "new_query": urlencode(query),
        },
    )


def _initial(request: HttpRequest, user: User) -> dict[str, Any]:
    """The form's starting values: the tab's type and domain, or an earlier request's bundle
    to resubmit (rolling back is resubmitting)."""
    initial: dict[str, Any] = {
        "truststore_type": request.GET.get("type", ""),
        "domain": request.GET.get("domain", ""),
    }
    source_id = request.GET.get("from", "")
    if source_id.isdigit() and len(source_id) < 19:
        source = _request_for(user, int(source_id))
        initial.update(
            truststore_type=source.truststore_type,
            domain=source.domain.slug,
            name=f"Rollback to {source.name} (#{source.pk})"[:200],
            description=f"Resubmits the bundle of truststore request #{source.pk}.",
            bundle_text=source.bundle,
        )
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def truststore_new(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    domains = list(domains_with(user, Perm.TRUSTSTORES_SUBMIT).order_by("slug"))
    if not domains:
        raise PermissionDenied(f"a truststore request needs {Perm.TRUSTSTORES_SUBMIT.value}")
    if request.method == "POST":
        form = TruststoreForm(request.POST, request.FILES, domains=domains)
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = services.submit(
                    form.chosen_domain,
                    user,
                    name=data["name"],
                    description=data["description"],
                    truststore_type=data["truststore_type"],
                    bundle=data["bundle"],
                )
            except (PermissionDenied, ValidationError) as exc:
                # The service stored nothing: a refused bundle never reaches the database.
                form.add_error(None, reason_of(exc))
                _forget_paste(form, request.POST)
            else:
                messages.success(
                    request,
                    f"Truststore request #{created.pk} submitted: {created.certificate_count} "
                    f"certificate(s), verdict {created.verdict}. Someone else must approve it.",
                )
                return redirect("console:truststore", pk=created.pk)
        elif "PRIVATE KEY" in str(request.POST.get("bundle_text", "")):
            _forget_paste(form, request.POST)
    else:
        form = TruststoreForm(initial=_initial(request, user), domains=domains)
    return render(request, "console/truststore_new.html", {"form": form})


def _forget_paste(form: TruststoreForm, post: QueryDict) -> None:
    """A refused paste is not sent back to the browser: it may hold a private key."""
    data = post.copy()
    data["bundle_text"] = ""
    form.data = data


@login_required
@require_http_methods(["GET", "POST"])
def truststore_detail(request: HttpRequest, pk: str) -> HttpResponse:
    user = request_user(request)
    item = _request_for(user, int(pk))
    if request.method == "POST":
        return _act(request, user, item)
    deployments = list(item.deployments.select_related("target"))
    result = item.validation_result
    approval = item.approval
    return render(
        request,
        "console/truststore_detail.html",
        {
            "item": item,
            "result": result,
            "certificates": result.get("certificates", []),
            "findings": result.get("findings", []),
            "comparison": services.compare_now(item),
            "deployments": deployments,
            "decisions": approval.decisions.select_related("approver") if approval else [],
            "approvals": approvals_count(approval) if approval else 0,
            "cannot_decide": may_decide(approval, user) if approval else "no approval request",
            "can_cancel": item.state == State.PENDING and item.submitted_by_id == user.pk,
            "can_retry": item.state == State.APPROVED
            and has_perm(user, Perm.TRUSTSTORES_APPROVE, item.domain),
            "deploy_failed": bool(item.error)
            or any(d.state == Deployment.State.FAILED for d in deployments),
            "can_resubmit": bool(item.bundle)
            and has_perm(user, Perm.TRUSTSTORES_SUBMIT, item.domain),
            "tab_query": urlencode({"type": item.truststore_type, "domain": item.domain.slug}),
            "progress": _progress(item),
        },
    )


def _progress(item: TruststoreRequest) -> dict[str, Any]:
    """The swap as the detail page follows it (console/static/console/progress.js)."""
    deployments = list(item.deployments.all())
    done = sum(1 for d in deployments if d.state == Deployment.State.DONE)
    return {
        "state": item.state,
        "stateClass": item.state.lower(),
        "error": item.error,
        "deployed": f"{done} of {len(deployments)} target{'s' if len(deployments) != 1 else ''}"
        if deployments
        else "—",
        # Nothing more will happen without a person: decided, finished, or failed.
        "done": item.state != State.APPROVED or bool(item.error),
    }


@login_required
@require_GET
def truststore_status(request: HttpRequest, pk: str) -> JsonResponse:
    return JsonResponse(_progress(_request_for(request_user(request), int(pk))))


def _act(request: HttpRequest, user: User, item: TruststoreRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    comment = request.POST.get("comment", "")[:2000]
    actions: dict[str, Callable[[], Any]] = {
        "approve": lambda: services.approve(item, user, comment),
        "reject": lambda: services.reject(item, user, comment),
        "cancel": lambda: services.cancel(item, user, comment),
        "retry": lambda: deploy.retry(item, user, comment),
    }
    if action not in actions:
        messages.error(request, "Unknown action.")
        return redirect("console:truststore", pk=item.pk)
    try:
        actions[action]()
    except (PermissionDenied, ValidationError, Conflict) as exc:
        messages.error(request, f"Not done: {reason_of(exc)}")
    else:
        done = {
            "approve": "approval recorded",
            "reject": "rejected; its bundle is discarded",
            "cancel": "cancelled",
            "retry": "deployment queued again",
        }
        messages.success(request, f"Truststore request #{item.pk}: {done[action]}.")
    return redirect("console:truststore", pk=item.pk)


@login_required
@require_GET
def truststore_bundle(request: HttpRequest, pk: str) -> HttpResponse:
    item = _request_for(request_user(request), int(pk))
    if not item.bundle:
        raise Http404(f"the bundle of request #{item.pk} was discarded ({item.state})")
    response = HttpResponse(item.bundle.encode(), content_type=PEM_TYPE)
    name = f"truststore-{item.truststore_type}-{item.pk}.pem"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def approval_redirect(approval_id: int) -> str | None:
    """Where the approvals queue sends an approver for a truststore request: its own page,
    which shows the validation and comparison beside the decision buttons."""
    found = TruststoreRequest.objects.filter(approval_id=approval_id).values_list("pk", flat=True)
    pk = found.first()
    return reverse("console:truststore", kwargs={"pk": pk}) if pk is not None else None
