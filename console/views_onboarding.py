"""Onboarding in the console (seed 004): a domain's protocol / operation settings, the direct
PKCS#12 download of a device's domain credential (certs.issue only), and one-time links an RA
officer makes and revokes. Another domain's device or domain is a 404; the services check
every permission again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import Perm, domains_with, has_perm
from config.errors import Conflict, Forbidden, Unavailable, reason_of, refusal
from console.forms_pkcs12 import Pkcs12PasswordForm
from console.users import request_user
from console.views_devices import visible_devices
from enrollment import onboarding, onboarding_links, onboarding_pkcs12
from enrollment.models import Device, OnboardingLink
from enrollment.models.onboarding import OPERATIONS
from pki.models import Domain, Profile

REFUSALS = (ValidationError, Forbidden, Conflict, Unavailable)


class SettingsForm(forms.Form):
    allowed_operations = forms.MultipleChoiceField(
        label="Allowed operations",
        required=False,
        help_text="an operation left unticked is refused (EST 403, CMP notAuthorized)",
        widget=forms.CheckboxSelectMultiple,
        choices=[
            (protocol.upper(), [(f"{protocol}.{op}", op) for op in ops])
            for protocol, ops in OPERATIONS.items()
        ],
    )
    idevid_enabled = forms.BooleanField(
        label="IDevID onboarding",
        required=False,
        help_text="devices proving an IDevID from the domain's provisioning truststore onboard "
        "without a shared secret",
    )
    idevid_serial_patterns = forms.CharField(
        label="IDevID serial-number patterns (one regular expression per line)",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="an IDevID's subject serialNumber must match one of them in full",
    )
    credential_profile = forms.ChoiceField(
        label="Profile of domain credentials",
        help_text="the profile domain credentials are issued under (PKCS#12, browser link)",
    )

    def __init__(self, *args: Any, profiles: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["credential_profile"].choices = [(p, p) for p in profiles]  # type: ignore[attr-defined]

    def patterns(self) -> list[str]:
        text = self.cleaned_data["idevid_serial_patterns"]
        return [line.strip() for line in text.splitlines() if line.strip()]


def _visible_domain(request: HttpRequest, slug: str) -> Domain:
    domain = domains_with(request_user(request), Perm.DOMAIN_VIEW).filter(slug=slug).first()
    if domain is None:
        raise Http404("no such domain")
    return domain


def _device(request: HttpRequest, pk: int) -> Device:
    device = visible_devices(request_user(request)).filter(pk=pk).first()
    if device is None:
        raise Http404("no such device")
    return device


@login_required
@require_http_methods(["GET", "POST"])
def onboarding_settings(request: HttpRequest, slug: str) -> HttpResponse:
    user = request_user(request)
    domain = _visible_domain(request, slug)
    may_manage = has_perm(user, Perm.DEVICES_MANAGE, domain)
    current = onboarding.config(domain)
    profiles = list(
        Profile.objects.filter(domain=domain, current_version__gt=0)
        .order_by("name")
        .values_list("name", flat=True)
    )
    if current.credential_profile not in profiles:
        profiles.append(current.credential_profile)
    initial = {
        "allowed_operations": current.allowed_operations,
        "idevid_enabled": current.idevid_enabled,
        "idevid_serial_patterns": "\n".join(current.idevid_serial_patterns or []),
        "credential_profile": current.credential_profile,
    }
    status, reasons = 200, []
    form = SettingsForm(request.POST or None, initial=initial, profiles=profiles)
    if request.method == "POST":
        if not may_manage:
            reasons, status = [f"you do not hold {Perm.DEVICES_MANAGE.value} here"], 403
        elif not form.is_valid():
            status = 400
        else:
            try:
                onboarding.update_config(
                    user,
                    domain,
                    allowed_operations=form.cleaned_data["allowed_operations"],
                    idevid_enabled=form.cleaned_data["idevid_enabled"],
                    idevid_serial_patterns=form.patterns(),
                    credential_profile=form.cleaned_data["credential_profile"],
                )
            except REFUSALS as exc:
                reasons, status = refusal(exc) or ([reason_of(exc)], 400)
            else:
                messages.success(request, f"Onboarding settings of {domain.slug} saved.")
                return redirect("console:onboarding-settings", slug=domain.slug)
    if not may_manage:
        for field in form.fields.values():
            field.disabled = True
    protocols = [
        (p.upper(), domain.protocol_enabled(p), [f"{p}.{op}" for op in ops])
        for p, ops in OPERATIONS.items()
    ]
    # The operations' checkboxes grouped per protocol, each group under its protocol's state.
    boxes = {str(w.data["value"]): w for w in form["allowed_operations"]}
    context = {
        "domain": domain,
        "form": form,
        "may_manage": may_manage,
        "reasons": reasons,
        "protocols": protocols,
        "operation_groups": [
            (name, enabled, [boxes[op] for op in ops]) for name, enabled, ops in protocols
        ],
    }
    return render(request, "console/onboarding_settings.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def device_pkcs12(request: HttpRequest, pk: int) -> HttpResponse:
    """The direct download: the answer to the POST is the file itself."""
    user = request_user(request)
    device = _device(request, pk)
    if not has_perm(user, Perm.CERTS_ISSUE, device.domain):
        reason = f"you do not hold {Perm.CERTS_ISSUE.value} in domain {device.domain.slug}"
        refused = {"device": device, "refusal": reason}
        return render(request, "console/device_pkcs12.html", refused, status=403)
    form = Pkcs12PasswordForm(request.POST or None)
    context: dict[str, Any] = {"device": device, "form": form}
    if request.method != "POST" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "console/device_pkcs12.html", context, status=status)
    try:
        made = onboarding_pkcs12.download(device, user, form.cleaned_data["password"])
    except REFUSALS as exc:
        context["reasons"], status = refusal(exc) or ([reason_of(exc)], 400)
        return render(request, "console/device_pkcs12.html", context, status=status)
    return pkcs12_response(made)


def pkcs12_response(made: onboarding_pkcs12.Pkcs12Credential) -> HttpResponse:
    response = HttpResponse(made.pkcs12, content_type=onboarding_pkcs12.P12_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{made.filename}"'
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
@require_POST
def link_new(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    device = _device(request, pk)
    try:
        made = onboarding_links.create_link(device, user)
    except REFUSALS as exc:
        reasons, status = refusal(exc) or ([reason_of(exc)], 400)
        context = {"device": device, "reasons": reasons}
        return render(request, "console/onboarding_link_new.html", context, status=status)
    # The URL is on this answer only: not stored, not in a message, not cached.
    context = {"device": device, "link": made.link, "url": request.build_absolute_uri(made.path)}
    response = render(request, "console/onboarding_link_new.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def link_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    visible = domains_with(user, Perm.DOMAIN_VIEW)
    link = (
        OnboardingLink.objects.select_related("device__domain")
        .filter(pk=pk, device__domain__in=visible)
        .first()
    )
    if link is None:
        raise Http404("no such onboarding link")
    try:
        onboarding_links.revoke_link(link, user)
    except Forbidden as exc:
        return HttpResponse(reason_of(exc), status=403, content_type="text/plain")
    except Conflict as exc:
        messages.info(request, exc.detail)
    else:
        messages.success(request, "Onboarding link revoked.")
    return redirect("console:device", pk=link.device_id)
