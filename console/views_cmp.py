"""CMP in the console (RFC 9483): a domain's binding (the profile of each operation,
implicitConfirm) and its shared secrets — listed, made (the value shown once, on a no-store
page, with an `openssl cmp` example) and revoked — plus a device's own secret from its page.
Reading needs domain.view; changing needs devices.manage, which enrollment.cmp.services
checks again. Another domain's secret, device or domain is a 404."""

from __future__ import annotations

import re
import secrets
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
from config.errors import Conflict, Forbidden, reason_of
from console.users import request_user
from console.views_devices import visible_devices
from enrollment.cmp import services
from enrollment.cmp.models import CmpSecret
from enrollment.models import Device
from pki.models import Domain, Profile

_SAFE = re.compile(r"[^A-Za-z0-9._-]")  # a reference a shell needs no quotes for
KEEP = "— the replaced certificate's profile —"


class BindingForm(forms.Form):
    ir_profile = forms.ChoiceField(label="ir (initial enrollment)")
    cr_profile = forms.ChoiceField(label="cr (certificate request)")
    p10cr_profile = forms.ChoiceField(label="p10cr (PKCS#10 request)")
    kur_profile = forms.ChoiceField(
        label="kur (key update)",
        required=False,
        help_text="by default a key update keeps the profile of the certificate it replaces",
    )
    allow_implicit_confirm = forms.BooleanField(
        label="Grant implicitConfirm when asked",
        required=False,
        help_text="a client asking for it skips certConf; otherwise a certificate not confirmed "
        "in time is revoked (RFC 9483 §4.1.1)",
    )

    def __init__(self, *args: Any, profiles: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(p, p) for p in profiles]
        for name in services.PROFILE_FIELDS:
            extra = [("", KEEP)] if name == "kur_profile" else []
            self.fields[name].choices = extra + choices  # type: ignore[attr-defined]


class SecretForm(forms.Form):
    reference = forms.CharField(
        max_length=128, required=False, help_text="the senderKID (-ref); left empty, one is made"
    )
    device = forms.ChoiceField(required=False, label="Device (optional)")
    description = forms.CharField(max_length=200, required=False)

    def __init__(self, *args: Any, devices: list[Device], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["device"].choices = [("", "— none (any device of the domain) —")] + [  # type: ignore[attr-defined]
            (str(d.pk), d.name) for d in devices
        ]


def _visible_domain(request: HttpRequest, slug: str) -> Domain:
    domain = domains_with(request_user(request), Perm.DOMAIN_VIEW).filter(slug=slug).first()
    if domain is None:
        raise Http404("no such domain")
    return domain


def _profiles(domain: Domain, current: list[str]) -> list[str]:
    names = list(
        Profile.objects.filter(domain=domain, current_version__gt=0)
        .order_by("name")
        .values_list("name", flat=True)
    )
    return names + [n for n in current if n and n not in names]


def secrets_of(domain: Domain, device: Device | None = None) -> list[CmpSecret]:
    found = CmpSecret.objects.filter(domain=domain).select_related(
        "device", "created_by", "revoked_by"
    )
    return list(found.filter(device=device) if device is not None else found[:500])


@login_required
@require_http_methods(["GET", "POST"])
def cmp_settings(request: HttpRequest, slug: str) -> HttpResponse:
    user = request_user(request)
    domain = _visible_domain(request, slug)
    may_manage = has_perm(user, Perm.DEVICES_MANAGE, domain)
    current = services.cmp_config(domain)
    initial: dict[str, Any] = {name: getattr(current, name) for name in services.PROFILE_FIELDS}
    initial["allow_implicit_confirm"] = current.allow_implicit_confirm
    profiles = _profiles(domain, [initial[n] for n in services.PROFILE_FIELDS])
    form = BindingForm(request.POST or None, initial=initial, profiles=profiles)
    status, reasons = 200, []
    if request.method == "POST":
        if not may_manage:
            reasons, status = [f"you do not hold {Perm.DEVICES_MANAGE.value} here"], 403
        elif not form.is_valid():
            status = 400
        else:
            data = form.cleaned_data
            try:
                services.update_config(
                    user,
                    domain,
                    profiles_by_operation={n: data[n] for n in services.PROFILE_FIELDS},
                    allow_implicit_confirm=data["allow_implicit_confirm"],
                )
            except (ValidationError, Forbidden) as exc:
                reasons, status = [reason_of(exc)], 403 if isinstance(exc, Forbidden) else 400
            else:
                messages.success(request, f"CMP binding of {domain.slug} saved.")
                return redirect("console:cmp-settings", slug=domain.slug)
    if not may_manage:
        for field in form.fields.values():
            field.disabled = True
    devices = list(Device.objects.filter(domain=domain).order_by("name")[:500])
    context = {
        "domain": domain,
        "form": form,
        "reasons": reasons,
        "may_manage": may_manage,
        "enabled": services.enabled(domain),
        "secrets": secrets_of(domain),
        "secret_form": SecretForm(devices=devices),
        "cmp_url": _cmp_url(request, domain),
    }
    return render(request, "console/cmp_settings.html", context, status=status)


def _cmp_url(request: HttpRequest, domain: Domain) -> str:
    return request.build_absolute_uri(f"/.well-known/cmp/p/{domain.slug}")


def _made(request: HttpRequest, row: CmpSecret, value: str) -> HttpResponse:
    # The value is on this answer only: not stored in clear, not in a message, not cached.
    context = {"secret": row, "value": value, "cmp_url": _cmp_url(request, row.domain)}
    response = render(request, "console/cmp_secret_new.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _refused(request: HttpRequest, domain: Domain, reason: str, status: int) -> HttpResponse:
    context = {"domain": domain, "reason": reason}
    return render(request, "console/cmp_secret_new.html", context, status=status)


@never_cache
@login_required
@require_POST
def secret_new(request: HttpRequest, slug: str) -> HttpResponse:
    user = request_user(request)
    domain = _visible_domain(request, slug)
    if not has_perm(user, Perm.DEVICES_MANAGE, domain):
        return _refused(request, domain, f"you do not hold {Perm.DEVICES_MANAGE.value}", 403)
    devices = list(Device.objects.filter(domain=domain))
    form = SecretForm(request.POST, devices=devices)
    if not form.is_valid():
        return _refused(request, domain, form.errors.as_text(), 400)
    device = next((d for d in devices if str(d.pk) == form.cleaned_data["device"]), None)
    try:
        row, value = services.create_secret(
            domain,
            user,
            reference=form.cleaned_data["reference"],
            device=device,
            description=form.cleaned_data["description"],
        )
    except (ValidationError, Forbidden) as exc:
        return _refused(request, domain, reason_of(exc), 403 if isinstance(exc, Forbidden) else 400)
    return _made(request, row, value)


@never_cache
@login_required
@require_POST
def device_secret_new(request: HttpRequest, pk: int) -> HttpResponse:
    """A secret bound to this device: its ir records the device's domain credential."""
    user = request_user(request)
    device = visible_devices(user).filter(pk=pk).first()
    if device is None:
        raise Http404("no such device")
    try:
        reference = f"{_SAFE.sub('-', device.name)[:120]}-{secrets.token_hex(3)}"
        row, value = services.create_secret(device.domain, user, reference=reference, device=device)
    except (ValidationError, Forbidden) as exc:
        status = 403 if isinstance(exc, Forbidden) else 400
        return _refused(request, device.domain, reason_of(exc), status)
    return _made(request, row, value)


@login_required
@require_POST
def secret_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    visible = domains_with(user, Perm.DOMAIN_VIEW)
    row = CmpSecret.objects.select_related("domain").filter(pk=pk, domain__in=visible).first()
    if row is None:
        raise Http404("no such CMP secret")
    try:
        services.revoke_secret(row, user)
    except Forbidden as exc:
        return HttpResponse(reason_of(exc), status=403, content_type="text/plain")
    except Conflict as exc:
        messages.info(request, exc.detail)
    else:
        messages.success(request, f"CMP secret {row.reference} revoked.")
    if request.POST.get("back") == "device" and row.device_id:
        return redirect("console:device", pk=row.device_id)
    return redirect("console:cmp-settings", slug=row.domain.slug)
