"""Certificate pages: request (RA officer) or issue (operator), list, detail.

Every decision is the services': "Issue now" calls issue() as the logged-in user, which
refuses anyone without certs.issue in the domain (an RA officer, or a forged POST);
"Request" calls requests.submit(), and the certificate comes only after someone else with
certs.issue approves it in the approvals queue.
"""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import Perm, domains_with, has_perm
from audit.models import AuditEvent
from config.errors import Conflict, Forbidden, Unavailable, reason_of
from console.users import request_user
from pki.crypto import certs
from pki.models import (
    CertificateAuthority,
    CertificateRequest,
    Domain,
    IssuedCertificate,
    Profile,
    Protocol,
    Reason,
    Revocation,
)
from pki.selectors import filter_certificates
from pki.services import cas, requests
from pki.services.issuance import IssueRequest, issue
from pki.services.profiles import preview

MAX_CSR_BYTES = 64 * 1024
PAGE_SIZE = 50


class CertificateForm(forms.Form):
    profile = forms.ChoiceField(label="Domain / profile")
    csr = forms.CharField(
        label="Paste the CSR (PEM)",
        required=False,
        max_length=MAX_CSR_BYTES,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
    )
    csr_file = forms.FileField(label="…or upload a CSR file (PEM or DER)", required=False)
    comment = forms.CharField(
        label="Comment", required=False, max_length=2000, widget=forms.Textarea({"rows": 2})
    )
    # A double-clicked "Issue now" returns the first certificate instead of a second one.
    idempotency_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args: Any, profiles: dict[str, Profile], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profiles = profiles
        choices = [(key, f"{p.domain.slug} / {p.name}") for key, p in profiles.items()]
        self.fields["profile"].choices = choices  # type: ignore[attr-defined]
        if not self.is_bound:
            self.initial["idempotency_key"] = secrets.token_urlsafe(24)

    def clean_idempotency_key(self) -> str:
        key = str(self.cleaned_data.get("idempotency_key") or "")
        if key and not key.isprintable():
            raise ValidationError("not a usable key")
        return key

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("csr_file")
        if upload is not None:
            if upload.size is None or upload.size > MAX_CSR_BYTES:
                raise ValidationError(f"the CSR file is larger than {MAX_CSR_BYTES} bytes")
            data["csr_data"] = upload.read()
        elif str(data.get("csr") or "").strip():
            data["csr_data"] = data["csr"]
        else:
            raise ValidationError("paste a CSR or upload a CSR file")
        return data

    @property
    def chosen(self) -> Profile:
        return self.profiles[self.cleaned_data["profile"]]


def _requestable_profiles(user: User) -> dict[str, Profile]:
    """Profiles of the domains where `user` may request or issue, keyed "domain/profile"."""
    domains = Domain.objects.filter(
        Q(pk__in=domains_with(user, Perm.CERTS_REQUEST))
        | Q(pk__in=domains_with(user, Perm.CERTS_ISSUE))
    )
    found = Profile.objects.filter(domain__in=domains, current_version__gt=0)
    found = found.select_related("domain").order_by("domain__slug", "name")
    return {f"{p.domain.slug}/{p.name}": p for p in found}


@login_required
@require_http_methods(["GET", "POST"])
def certificate_new(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    profiles = _requestable_profiles(user)
    context: dict[str, Any] = {
        "can_request": domains_with(user, Perm.CERTS_REQUEST).exists(),
        "can_issue": domains_with(user, Perm.CERTS_ISSUE).exists(),
    }
    if not (context["can_request"] or context["can_issue"]):
        context["refusal"] = "you may neither request nor issue certificates in any domain"
        return render(request, "console/certificate_new.html", context, status=403)
    if request.method != "POST":
        context["form"] = CertificateForm(profiles=profiles)
        return render(request, "console/certificate_new.html", context)
    form = CertificateForm(request.POST, request.FILES, profiles=profiles)
    context["form"] = form
    action = request.POST.get("action", "")
    if action not in ("check", "request", "issue"):
        form.add_error(None, "choose “Check”, “Request” or “Issue now”")
    if not form.is_valid():
        return render(request, "console/certificate_new.html", context, status=400)
    if action == "check":  # the profile's verdict, nothing submitted
        context["verdict"] = preview(
            form.chosen, form.cleaned_data["csr_data"], protocol=Protocol.API
        )
        return render(request, "console/certificate_new.html", context)
    try:
        if action == "issue":
            return _issue_now(request, user, form)
        return _submit_request(request, user, form)
    except Forbidden as exc:  # a profile denial lists every broken rule
        reasons, status = exc.reasons or [reason_of(exc)], 403
    except ValidationError as exc:
        reasons, status = exc.messages, 400
    except Conflict as exc:
        reasons, status = [exc.detail], 409
    except Unavailable as exc:
        reasons, status = [str(exc)], 503
    context["reasons"] = reasons
    return render(request, "console/certificate_new.html", context, status=status)


def _issue_now(request: HttpRequest, user: User, form: CertificateForm) -> HttpResponse:
    profile = form.chosen
    issued = issue(
        IssueRequest(
            domain=profile.domain,
            profile=profile.name,
            csr=form.cleaned_data["csr_data"],
            protocol=Protocol.API,
            user=user,
            idempotency_key=form.cleaned_data["idempotency_key"] or None,
            extra={"front_end": "console"},
        )
    )
    serial = issued.certificate.serial
    messages.success(request, f"Certificate {serial} issued.")
    return redirect("console:certificate", serial=serial)


def _submit_request(request: HttpRequest, user: User, form: CertificateForm) -> HttpResponse:
    profile = form.chosen
    submitted = requests.submit(
        profile.domain,
        profile.name,
        form.cleaned_data["csr_data"],
        user,
        form.cleaned_data["comment"],
    )
    messages.success(
        request,
        f"Certificate request #{submitted.pk} submitted: it waits for approval by someone "
        f"else holding {Perm.CERTS_ISSUE.value}.",
    )
    if submitted.approval_id is None:  # the approval is made with the request; never here
        return redirect("console:certificates")
    return redirect("console:approval", pk=submitted.approval_id)


def _visible_certificates(user: User) -> QuerySet[IssuedCertificate]:
    qs = IssuedCertificate.objects.filter(domain__in=domains_with(user, Perm.DOMAIN_VIEW))
    return qs.select_related("domain", "ca", "profile_version__profile")


FILTERS = ("domain", "ca", "profile", "status", "expires_within", "q")


@login_required
@require_GET
def certificates(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    visible = domains_with(user, Perm.DOMAIN_VIEW)
    qs = _visible_certificates(user).order_by("-created_at", "-pk")
    params = {k: request.GET.get(k, "").strip()[:200] for k in FILTERS}
    qs = filter_certificates(qs, params)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    mine = CertificateRequest.objects.filter(requested_by=user, domain__in=visible)
    mine = mine.select_related("domain", "profile", "certificate").order_by("-created_at")[:50]
    return render(
        request,
        "console/certificates.html",
        {
            "page": page,
            "params": params,
            "domains": visible.order_by("slug"),
            "cas": CertificateAuthority.objects.filter(domain__in=visible).order_by("slug"),
            "profiles": sorted(
                set(Profile.objects.filter(domain__in=visible).values_list("name", flat=True))
            ),
            "statuses": IssuedCertificate.Status.values,
            "filter_query": urlencode({k: v for k, v in params.items() if v}),
            "mine": mine,
            "may_ask": bool(_requestable_profiles(user)),
        },
    )


@login_required
@require_GET
def certificate_detail(request: HttpRequest, serial: str) -> HttpResponse:
    cert = _visible_certificates(request_user(request)).filter(serial=serial.upper()).first()
    if cert is None:  # another domain's certificate is as unknown as a missing one
        raise Http404("no such certificate")
    der = bytes(cert.der)
    info = certs.info(der)
    chain_pem = "".join(certs.der_to_pem(c) for c in cas.issuing_chain(cert.ca))
    via = CertificateRequest.objects.filter(certificate=cert).select_related("requested_by")
    revoked = Revocation.objects.filter(certificate=cert, released_at=None).first()
    trail = AuditEvent.objects.filter(
        object_type=IssuedCertificate._meta.label_lower, object_id=str(cert.pk)
    ).order_by("id")
    return render(
        request,
        "console/certificate_detail.html",
        {
            "cert": cert,
            "info": info,
            "sans": info.dns_names + info.ip_addresses,
            "pem": info.pem,
            "chain_pem": chain_pem,
            "via": via.first(),
            "revocation": revoked,
            "trail": trail,
            "may_revoke": has_perm(request_user(request), Perm.CERTS_REVOKE, cert.domain),
            "reasons": Reason.values,
            "pem_url": reverse("api:certificate-pem", kwargs={"serial": cert.serial}),
            "der_url": reverse("api:certificate-der", kwargs={"serial": cert.serial}),
        },
    )
