"""CA and ceremony pages (issue 9, item 5): each domain's hierarchy as a tree with status, key
backend and CRL / OCSP freshness; key ceremonies started, followed and (through the approvals
queue) approved by custodians; the operation's progress once quorum is reached, updated in
place by a small script polling the ceremony's status (no reload, no framework).

Everything goes through pki.services.ceremonies.start(), which checks who may propose, who
is a custodian and every parameter; this module only turns a form into its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Perm, domains_with, has_perm, users_with
from approvals.models import Decision
from approvals.services import approvals_count
from config.errors import reason_of
from console.users import request_user
from pki.models import Ceremony, CertificateAuthority, Crl, Domain, OcspResponder
from pki.services import cas as ca_urls
from pki.services import ceremonies, crls
from pki.services.crls import request_crls

Op = Ceremony.Operation
# Imports carry a key or a PKCS#12: those go through the API or the admin, not a web form.
FORM_OPERATIONS = [Op.CREATE_ROOT, Op.CREATE_INTERMEDIATE, Op.ROTATE, Op.CROSS_SIGN]
FINISHED = {
    Ceremony.State.DONE,
    Ceremony.State.FAILED,
    Ceremony.State.REJECTED,
    Ceremony.State.CANCELLED,
}


@dataclass
class CaRow:
    ca: CertificateAuthority
    depth: int
    days_left: int
    crl: Crl | None
    responder: OcspResponder | None
    urls: dict[str, str]

    @property
    def crl_stale(self) -> bool:
        return self.crl is None or self.crl.next_update < timezone.now()


def _tree(domain: Domain) -> list[CaRow]:
    """The domain's CAs depth-first, each under its parent."""
    all_cas = list(CertificateAuthority.objects.filter(domain=domain).order_by("created_at"))
    crls: dict[int, Crl] = {}
    for crl in Crl.objects.filter(ca__in=all_cas, delta=False).order_by("ca_id", "-number"):
        crls.setdefault(crl.ca_id, crl)
    responders: dict[int, OcspResponder] = {}
    for r in OcspResponder.objects.filter(ca__in=all_cas).order_by("ca_id", "-not_after"):
        responders.setdefault(r.ca_id, r)
    children: dict[int | None, list[CertificateAuthority]] = {}
    for ca in all_cas:
        children.setdefault(ca.parent_id, []).append(ca)
    known = {ca.pk for ca in all_cas}
    now = timezone.now()
    rows: list[CaRow] = []

    def walk(ca: CertificateAuthority, depth: int) -> None:
        rows.append(
            CaRow(
                ca,
                depth,
                (ca.not_after - now).days,
                crls.get(ca.pk),
                responders.get(ca.pk),
                ca_urls.urls(ca.slug),
            )
        )
        for child in children.get(ca.pk, []):
            walk(child, depth + 1)

    # Roots, and CAs whose parent is outside the domain (an imported intermediate).
    for ca in all_cas:
        if ca.parent_id is None or ca.parent_id not in known:
            walk(ca, 0)
    return rows


@login_required
@require_GET
def ca_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    domains = list(domains_with(user, Perm.DOMAIN_VIEW).order_by("slug"))
    following = request.GET.get("following", "")
    context = {
        "trees": [(d, _tree(d)) for d in domains],
        "may_publish": {d.pk for d in domains if has_perm(user, Perm.CERTS_REVOKE, d)},
        "following": following,
        "after": request.GET.get("after", "0"),
        "may_propose": any(has_perm(user, Perm.CEREMONIES_PROPOSE, d) for d in domains),
        "ceremonies": Ceremony.objects.filter(domain__in=domains)
        .select_related("domain", "approval", "started_by")
        .order_by("-created_at")[:50],
    }
    return render(request, "console/cas.html", context)


class CeremonyForm(forms.Form):
    domain = forms.ModelChoiceField(queryset=Domain.objects.none(), to_field_name="slug")
    operation = forms.ChoiceField(choices=[(op.value, op.label) for op in FORM_OPERATIONS])
    purpose = forms.CharField(max_length=300)
    custodians = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    threshold = forms.IntegerField(label="Approvals needed (m)", min_value=1, max_value=20)
    slug = forms.SlugField(label="New CA slug", required=False, max_length=80)
    name = forms.CharField(label="New CA name", required=False, max_length=200)
    ca = forms.CharField(label="CA to rotate / cross-sign (slug)", required=False, max_length=80)
    parent = forms.CharField(label="Parent CA (slug)", required=False, max_length=80)
    issuer = forms.CharField(label="Cross-signing issuer (slug)", required=False, max_length=80)
    algorithm = forms.ChoiceField(
        choices=[("ec-p256", "EC P-256"), ("ec-p384", "EC P-384"), ("rsa-3072", "RSA 3072")],
        required=False,
    )
    key_backend = forms.CharField(label="Key backend alias", required=False, max_length=50)
    validity_days = forms.IntegerField(required=False, min_value=1, max_value=36500)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        domains = domains_with(user, Perm.CEREMONIES_PROPOSE)
        self.fields["domain"].queryset = domains  # type: ignore[attr-defined]
        custodians = sorted(
            {
                (u.get_username(), f"{u.get_username()} ({d.slug})")
                for d in domains
                for u in users_with(Perm.CEREMONIES_APPROVE, d)
                if u.is_active
            }
        )
        self.fields["custodians"].choices = custodians  # type: ignore[attr-defined]

    def params(self) -> dict[str, Any]:
        keys = ("slug", "name", "ca", "parent", "issuer", "algorithm", "key_backend")
        out: dict[str, Any] = {k: self.cleaned_data[k] for k in keys if self.cleaned_data.get(k)}
        if self.cleaned_data.get("validity_days"):
            out["validity_days"] = self.cleaned_data["validity_days"]
        return out


@login_required
@require_http_methods(["GET", "POST"])
def ceremony_new(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not domains_with(user, Perm.CEREMONIES_PROPOSE).exists():
        raise PermissionDenied(f"you hold {Perm.CEREMONIES_PROPOSE.value} in no domain")
    form = CeremonyForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        custodians = list(User.objects.filter(username__in=data["custodians"]))
        try:
            ceremony = ceremonies.start(
                data["domain"],
                data["operation"],
                purpose=data["purpose"],
                threshold=data["threshold"],
                custodians=custodians,
                started_by=user,
                params=form.params(),
            )
        except ValidationError as exc:
            form.add_error(None, reason_of(exc))
        else:
            messages.success(request, f"Ceremony #{ceremony.pk} waits for its custodians.")
            return redirect("console:ceremony", pk=ceremony.pk)
    return render(request, "console/ceremony_new.html", {"form": form})


def _ceremony(user: User, pk: int) -> Ceremony:
    found = (
        Ceremony.objects.select_related("domain", "approval", "started_by")
        .filter(pk=pk, domain__in=domains_with(user, Perm.DOMAIN_VIEW))
        .first()
    )
    if found is None:
        raise Http404("no such ceremony")
    return found


def _progress(ceremony: Ceremony) -> dict[str, Any]:
    approval = ceremony.approval
    finished: datetime | None = ceremony.finished_at
    return {
        "id": ceremony.pk,
        "state": ceremony.state,
        "stateLabel": ceremony.get_state_display(),
        "approvals": approvals_count(approval),
        "threshold": ceremony.threshold,
        "actionState": approval.action_state,
        "result": ceremony.result,
        "finishedAt": finished.isoformat() if finished else None,
        "done": ceremony.state in FINISHED,
    }


@login_required
@require_GET
def ceremony_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    ceremony = _ceremony(user, pk)
    approval = ceremony.approval
    decisions = list(approval.decisions.select_related("approver").order_by("decided_at"))
    voted = {d.approver_id for d in decisions}
    custodians = [
        (u, u.pk in voted) for u in approval.eligible_users.order_by("username").distinct()
    ]
    context = {
        "ceremony": ceremony,
        "progress": _progress(ceremony),
        "decisions": decisions,
        "custodians": custodians,
        "approved": [d for d in decisions if d.verdict == Decision.Verdict.APPROVE],
        "i_am_custodian": any(u.pk == user.pk for u, _ in custodians),
    }
    return render(request, "console/ceremony_detail.html", context)


@login_required
@require_GET
def ceremony_status(request: HttpRequest, pk: int) -> JsonResponse:
    ceremony = _ceremony(request_user(request), pk)
    return JsonResponse(_progress(ceremony))


def _visible_ca(user: User, slug: str) -> CertificateAuthority:
    found = (
        CertificateAuthority.objects.select_related("domain")
        .filter(slug=slug, domain__in=domains_with(user, Perm.DOMAIN_VIEW))
        .first()
    )
    if found is None:
        raise Http404("no such CA")
    return found


def _latest_crl(ca: CertificateAuthority) -> Crl | None:
    return Crl.objects.filter(ca=ca, delta=False).order_by("-number").first()


@login_required
@require_POST
def ca_publish_crl(request: HttpRequest, slug: str) -> HttpResponse:
    """Queue a complete and a delta CRL (the worker signs; the key may be in an HSM), then
    follow the run on the CAs page."""
    user = request_user(request)
    ca = _visible_ca(user, slug)
    if not has_perm(user, Perm.CERTS_REVOKE, ca.domain):
        raise PermissionDenied(f"you do not hold {Perm.CERTS_REVOKE.value} in {ca.domain.slug}")
    if not crls.publishes(ca):
        messages.error(request, f"{ca.slug} publishes no CRLs here")
        return redirect("console:cas")
    latest = _latest_crl(ca)
    request_crls(ca, user, via="console")
    messages.success(request, f"CRLs for {ca.slug} queued.")
    after = latest.number if latest else 0
    return redirect(f"{reverse('console:cas')}?following={ca.slug}&after={after}#ca-{ca.slug}")


@login_required
@require_GET
def ca_status(request: HttpRequest, slug: str) -> JsonResponse:
    """The CA's latest complete CRL; done once it is newer than ?after=<number>."""
    ca = _visible_ca(request_user(request), slug)
    latest = _latest_crl(ca)
    after = request.GET.get("after", "")
    number = latest.number if latest else 0
    return JsonResponse(
        {
            "crlNumber": number or "none yet",
            "crlNextUpdate": latest.next_update.strftime("%Y-%m-%d %H:%M") if latest else "—",
            "crlEntries": latest.entries if latest else 0,
            "done": not after.isdigit() or number > int(after),
        }
    )
