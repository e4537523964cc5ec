"""ACME for operators (issue 8, items 1 and 4): external account binding keys made and
revoked here (the HMAC key shown once), and early renewal (ARI, RFC 9773) asked for one
certificate or every certificate of a CA. The rules are enrollment.acme's services; the
permissions are the API's: certs.issue for keys, certs.revoke for renewal flags."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import Perm, domains_with, has_perm
from console.users import request_user
from console.views_cas import _visible_ca
from console.views_certificates import _visible_certificates
from enrollment.acme import ari, eab
from enrollment.acme.models import ExternalAccountKey
from pki.models import Domain


class KeyForm(forms.Form):
    domain = forms.ModelChoiceField(queryset=Domain.objects.none(), to_field_name="slug")
    comment = forms.CharField(label="Who gets it (comment)", max_length=200)


@login_required
@require_http_methods(["GET", "POST"])
def eab_keys(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    domains = domains_with(user, Perm.CERTS_ISSUE)
    if not domains.exists():
        raise PermissionDenied(f"you hold {Perm.CERTS_ISSUE.value} in no domain")
    form = KeyForm(request.POST or None)
    form.fields["domain"].queryset = domains  # type: ignore[attr-defined]
    context: dict[str, object] = {"form": form}
    if request.method == "POST" and form.is_valid():
        made = eab.create_key(
            form.cleaned_data["domain"], actor=user, comment=form.cleaned_data["comment"]
        )
        # The HMAC key is on this answer only: sealed in the database, never shown again.
        context.update(new_key=made.key, hmac_key=made.hmac_key, form=KeyForm())
        context["form"].fields["domain"].queryset = domains  # type: ignore[attr-defined]
    context["keys"] = (
        ExternalAccountKey.objects.filter(domain__in=domains)
        .select_related("domain", "account")
        .order_by("-created_at")[:200]
    )
    response = render(request, "console/acme_keys.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def eab_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    key = ExternalAccountKey.objects.filter(
        pk=pk, domain__in=domains_with(user, Perm.CERTS_ISSUE)
    ).first()
    if key is None:
        raise Http404("no such key")
    if eab.revoke_keys([key], actor=user, comment="from the console"):
        messages.success(request, f"Key {key.key_id} revoked: it binds no new account.")
    else:
        messages.info(request, f"Key {key.key_id} was already revoked.")
    return redirect("console:acme-keys")


def _explanation(request: HttpRequest) -> str:
    url = request.POST.get("explanation_url", "").strip()[:500]
    if url and not url.startswith(("https://", "http://")):
        return ""
    return url


@login_required
@require_POST
def renew_certificate(request: HttpRequest, serial: str) -> HttpResponse:
    user = request_user(request)
    cert = _visible_certificates(user).filter(serial=serial.upper()).first()
    if cert is None:
        raise Http404("no such certificate")
    if not has_perm(user, Perm.CERTS_REVOKE, cert.domain):
        raise PermissionDenied(f"you do not hold {Perm.CERTS_REVOKE.value} in {cert.domain.slug}")
    ari.flag(cert.domain, certificate=cert, explanation_url=_explanation(request), actor=user)
    messages.success(request, "Early renewal asked: ACME clients that follow ARI renew now.")
    return redirect("console:certificate", serial=cert.serial)


@login_required
@require_POST
def renew_ca(request: HttpRequest, slug: str) -> HttpResponse:
    user = request_user(request)
    ca = _visible_ca(user, slug)
    if not has_perm(user, Perm.CERTS_REVOKE, ca.domain):
        raise PermissionDenied(f"you do not hold {Perm.CERTS_REVOKE.value} in {ca.domain.slug}")
    ari.flag(ca.domain, ca=ca, explanation_url=_explanation(request), actor=user)
    messages.success(request, f"Early renewal asked for every certificate of {ca.slug}.")
    return redirect("console:cas")
