"""The page behind a one-time onboarding link (/onboard/<token>): no login. It shows the
device and its domain, takes a PKCS#12 password twice and answers the POST with the file,
once. A used, revoked, expired or unknown link is a 410 / 404 page saying which, and nothing
is issued."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from config.errors import reason_of, refusal
from console.forms_pkcs12 import Pkcs12PasswordForm
from console.views_onboarding import REFUSALS, pkcs12_response
from enrollment import onboarding_links
from enrollment.onboarding_links import LinkRefused

TEMPLATE = "console/onboard.html"


@never_cache
@require_http_methods(["GET", "POST"])
def onboard(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = onboarding_links.find(token)
    except LinkRefused as exc:
        return render(request, TEMPLATE, {"refusal": exc.reason}, status=exc.status)
    form = Pkcs12PasswordForm(request.POST or None)
    context: dict[str, Any] = {"link": link, "device": link.device, "form": form}
    if request.method != "POST" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, TEMPLATE, context, status=status)
    try:
        made = onboarding_links.redeem(token, form.cleaned_data["password"])
    except LinkRefused as exc:
        return render(request, TEMPLATE, {"refusal": exc.reason}, status=exc.status)
    except REFUSALS as exc:
        context["reasons"], status = refusal(exc) or ([reason_of(exc)], 400)
        return render(request, TEMPLATE, context, status=status)
    return pkcs12_response(made)
