"""Device pages: the devices and credentials of the caller's domains, a device with its
onboarding (method, state, domain credential, one-time links), credentials and certificates,
a new credential (its secret shown on that one answer, never again), revoking a credential.
Reading needs domain.view; changing needs devices.manage, which enrollment.services checks
again. Another domain's device or credential is a 404."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Perm, domains_with, has_perm
from config.errors import Conflict, Forbidden, reason_of
from console.users import request_user
from enrollment import services
from enrollment.cmp.models import CmpSecret
from enrollment.models import Device, EnrollmentCredential
from pki.models import Domain


def visible_devices(user: User) -> QuerySet[Device]:
    visible = domains_with(user, Perm.DOMAIN_VIEW)
    return Device.objects.filter(domain__in=visible).select_related("domain", "domain_credential")


def _credentials(user: User) -> QuerySet[EnrollmentCredential]:
    visible = domains_with(user, Perm.DOMAIN_VIEW)
    return EnrollmentCredential.objects.filter(domain__in=visible).select_related(
        "domain", "device", "created_by", "revoked_by"
    )


class DeviceForm(forms.Form):
    domain = forms.ChoiceField()
    name = forms.CharField(max_length=200)
    serial_number = forms.CharField(
        max_length=200, required=False, help_text="optional; IDevID onboarding matches it"
    )
    onboarding_method = forms.ChoiceField(
        label="Onboarding",
        choices=Device.Onboarding.choices,
        initial=Device.Onboarding.NONE,
        required=False,
        help_text="how the device gets its domain credential before any other certificate",
    )

    def __init__(self, *args: Any, domains: list[Domain], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["domain"].choices = [(d.slug, d.slug) for d in domains]  # type: ignore[attr-defined]


class CredentialForm(forms.Form):
    domain = forms.ChoiceField()
    device = forms.ChoiceField(required=False, label="Device (optional)")
    username = forms.CharField(
        max_length=150, required=False, help_text="left empty, one is made up"
    )
    description = forms.CharField(max_length=200, required=False)

    def __init__(
        self, *args: Any, domains: list[Domain], devices: list[Device], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["domain"].choices = [(d.slug, d.slug) for d in domains]  # type: ignore[attr-defined]
        self.fields["device"].choices = [("", "— none (a domain credential) —")] + [  # type: ignore[attr-defined]
            (str(d.pk), f"{d.domain.slug} / {d.name}") for d in devices
        ]


@login_required
@require_http_methods(["GET", "POST"])
def devices(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    manageable = list(domains_with(user, Perm.DEVICES_MANAGE))
    form = DeviceForm(request.POST or None, domains=manageable)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            domain = next(d for d in manageable if d.slug == form.cleaned_data["domain"])
            try:
                device = services.create_device(
                    domain,
                    user,
                    name=form.cleaned_data["name"],
                    serial_number=form.cleaned_data["serial_number"],
                    onboarding_method=form.cleaned_data["onboarding_method"]
                    or Device.Onboarding.NONE,
                )
            except (ValidationError, Forbidden) as exc:
                form.add_error(None, reason_of(exc))
                status = 400
            else:
                messages.success(request, f"Device {device.name} added.")
                return redirect("console:device", pk=device.pk)
        else:
            status = 400
    context = {
        "devices": visible_devices(user).order_by("domain__slug", "name")[:500],
        "credentials": _credentials(user).filter(device__isnull=True)[:500],
        "may_manage": bool(manageable),
        "form": form,
        "domains": domains_with(user, Perm.DOMAIN_VIEW).order_by("slug"),
    }
    return render(request, "console/devices.html", context, status=status)


@login_required
@require_GET
def device_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    device = visible_devices(user).filter(pk=pk).first()
    if device is None:
        raise Http404("no such device")
    context = {
        "device": device,
        "credentials": device.credentials.select_related("created_by", "revoked_by"),
        "certificates": device.certificates.select_related("certificate"),
        "may_manage": has_perm(user, Perm.DEVICES_MANAGE, device.domain),
        "may_issue": has_perm(user, Perm.CERTS_ISSUE, device.domain),
        "onboardable": device.onboarding_method != Device.Onboarding.NONE,
        "cmp_device": device.onboarding_method == Device.Onboarding.CMP_SHARED_SECRET,
        "cmp_secrets": CmpSecret.objects.filter(device=device).select_related(
            "device", "created_by", "revoked_by"
        ),
        "links": [
            (link, link.state(timezone.now()))
            for link in device.onboarding_links.select_related("created_by", "revoked_by")
        ],
    }
    return render(request, "console/device_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def credential_new(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    manageable = list(domains_with(user, Perm.DEVICES_MANAGE))
    if not manageable:
        context = {"refusal": f"you hold {Perm.DEVICES_MANAGE.value} in no domain"}
        return render(request, "console/credential_new.html", context, status=403)
    devices = list(visible_devices(user).filter(domain__in=manageable))
    initial = {"device": request.GET.get("device", "")}
    form = CredentialForm(
        request.POST or None, domains=manageable, devices=devices, initial=initial
    )
    if request.method != "POST" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "console/credential_new.html", {"form": form}, status=status)
    domain = next(d for d in manageable if d.slug == form.cleaned_data["domain"])
    device = next((d for d in devices if str(d.pk) == form.cleaned_data["device"]), None)
    try:
        credential, secret = services.create_credential(
            domain,
            user,
            username=form.cleaned_data["username"],
            device=device,
            description=form.cleaned_data["description"],
        )
    except (ValidationError, Forbidden) as exc:
        form.add_error(None, reason_of(exc))
        return render(request, "console/credential_new.html", {"form": form}, status=400)
    # The secret is on this page only: not stored, not in a message, not cached.
    response = render(
        request, "console/credential_new.html", {"credential": credential, "secret": secret}
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def credential_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    credential = _credentials(user).filter(pk=pk).first()
    if credential is None:
        raise Http404("no such credential")
    try:
        services.revoke_credential(credential, user)
    except Forbidden as exc:
        return HttpResponse(reason_of(exc), status=403, content_type="text/plain")
    except Conflict as exc:
        messages.info(request, exc.detail)
    else:
        messages.success(request, f"Credential {credential.username} revoked.")
    if credential.device_id:
        return redirect("console:device", pk=credential.device_id)
    return redirect("console:devices")
