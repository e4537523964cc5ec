"""A certificate whose key the server makes (issue 9, item 3), delivered once as a
password-protected PKCS#12 (RFC 7292): the key lives only in this request's memory, is
never stored, and the answer to the POST is the file itself.

Only for "Issue now" (certs.issue): a request waiting for approval would have to keep the
key somewhere until someone decides, which is exactly what this page avoids.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.roles import Perm, domains_with
from config.errors import Conflict, Forbidden, Unavailable, reason_of, refusal
from console.forms_pkcs12 import Pkcs12PasswordForm
from console.users import request_user
from pki.crypto.keys import KeyAlgorithm
from pki.models import Profile
from pki.services.server_keys import ServerKeyRequest, issue_with_server_key

ALGORITHMS = [
    (KeyAlgorithm.EC_P256.value, "EC P-256"),
    (KeyAlgorithm.EC_P384.value, "EC P-384"),
    (KeyAlgorithm.RSA_2048.value, "RSA 2048"),
    (KeyAlgorithm.RSA_3072.value, "RSA 3072"),
]


class KeygenForm(Pkcs12PasswordForm):
    field_order = ["profile", "common_name", "dns_names", "ip_addresses", "algorithm"]

    profile = forms.ChoiceField(label="Domain / profile")
    common_name = forms.CharField(label="Common name", max_length=64)
    dns_names = forms.CharField(
        label="DNS names (comma-separated)", required=False, max_length=2000
    )
    ip_addresses = forms.CharField(
        label="IP addresses (comma-separated)", required=False, max_length=1000
    )
    algorithm = forms.ChoiceField(label="Key", choices=ALGORITHMS)

    def __init__(self, *args: Any, profiles: dict[str, Profile], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profiles = profiles
        choices = [(key, f"{p.domain.slug} / {p.name}") for key, p in profiles.items()]
        self.fields["profile"].choices = choices  # type: ignore[attr-defined]

    @staticmethod
    def listed(value: str) -> list[str]:
        return [part.strip() for part in value.split(",") if part.strip()]


def _issuing_profiles(user: User) -> dict[str, Profile]:
    found = Profile.objects.filter(
        domain__in=domains_with(user, Perm.CERTS_ISSUE), current_version__gt=0
    ).select_related("domain")
    return {f"{p.domain.slug}/{p.name}": p for p in found.order_by("domain__slug", "name")}


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def certificate_keygen(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    profiles = _issuing_profiles(user)
    if not profiles:
        raise PermissionDenied(f"you hold {Perm.CERTS_ISSUE.value} in no domain with a profile")
    form = KeygenForm(request.POST or None, profiles=profiles)
    context: dict[str, Any] = {"form": form}
    if request.method != "POST" or not form.is_valid():
        return render(request, "console/certificate_keygen.html", context)
    data = form.cleaned_data
    profile = profiles[data["profile"]]
    try:
        made = issue_with_server_key(
            ServerKeyRequest(
                domain=profile.domain,
                profile=profile.name,
                common_name=data["common_name"],
                algorithm=KeyAlgorithm(data["algorithm"]),
                dns_names=form.listed(data["dns_names"]),
                ip_addresses=form.listed(data["ip_addresses"]),
                user=user,
                extra={"front_end": "console"},
            )
        )
    except (ValidationError, Forbidden, Conflict, Unavailable) as exc:
        context["reasons"], status = refusal(exc) or ([reason_of(exc)], 400)
    else:
        cert = made.certificate
        p12 = made.pkcs12(data["common_name"], data["password"])
        response = HttpResponse(p12, content_type="application/x-pkcs12")
        response["Content-Disposition"] = f'attachment; filename="{cert.serial}.p12"'
        return response
    return render(request, "console/certificate_keygen.html", context, status=status)
