"""Profile pages (issue 9, item 4): list, view a version, edit as a new version with the diff
to the previous one, history.

Editing never changes a version: the form's rules go to pki.services.profiles.save_profile,
which validates them (ProfileSpec.check), adds version N+1 and records the audit event. The
form is made from ProfileSpec's fields, so a rule added there appears here.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import Perm, domains_with, has_perm
from config.errors import Forbidden
from console.users import request_user
from pki.models import CertificateAuthority, Profile, ProfileVersion
from pki.services import profiles as service
from pki.services.profiles import ProfileSpec

SPEC_FIELDS = fields(ProfileSpec)
HELP = {
    "key_types": "rsa, ec, ed25519",
    "ec_curves": "P-256, P-384, P-521",
    "key_usage": "end-entity key usages, e.g. digitalSignature, keyEncipherment",
    "ekus": "names (serverAuth, clientAuth, …) or dotted OIDs",
    "dns_suffixes": "names allowed under these suffixes; empty: none",
    "ip_networks": "e.g. 10.0.0.0/8; empty: no IP addresses",
    "protocols": "api, console, est, cmp, acme",
}


def shown(value: Any) -> str:
    """A rule's value as a person reads it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return "—" if value is None or value == "" else str(value)


def _profile(user: User, domain: str, name: str) -> Profile:
    """The profile if `user` may see its domain; another domain's answers 404."""
    found = (
        Profile.objects.select_related("domain")
        .filter(domain__in=domains_with(user, Perm.DOMAIN_VIEW), domain__slug=domain, name=name)
        .first()
    )
    if found is None:
        raise Http404("no such profile")
    return found


class SpecForm(forms.Form):
    """One field per ProfileSpec rule: lists as comma-separated text."""

    ca = forms.ModelChoiceField(queryset=CertificateAuthority.objects.none(), label="Signing CA")
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea({"rows": 2})
    )
    comment = forms.CharField(label="Why this change", max_length=300)

    def __init__(self, *args: Any, profile: Profile, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cas = CertificateAuthority.objects.filter(
            domain=profile.domain, status=CertificateAuthority.Status.ACTIVE
        )
        self.fields["ca"].queryset = cas  # type: ignore[attr-defined]
        for f in SPEC_FIELDS:
            label = f.name.replace("_", " ").capitalize()
            if f.type in ("bool", bool):
                self.fields[f.name] = forms.BooleanField(label=label, required=False)
            elif f.type in ("int", int):
                self.fields[f.name] = forms.IntegerField(label=label, min_value=0)
            else:
                self.fields[f.name] = forms.CharField(
                    label=label, required=False, max_length=2000, help_text=HELP.get(f.name, "")
                )

    @staticmethod
    def initial_for(version: ProfileVersion, profile: Profile) -> dict[str, Any]:
        spec = version.spec
        initial: dict[str, Any] = {"ca": version.ca_id, "description": profile.description}
        for f in SPEC_FIELDS:
            value = spec.get(f.name)
            initial[f.name] = ", ".join(value) if isinstance(value, list) else value
        return initial

    def spec(self) -> dict[str, Any]:
        data = self.cleaned_data
        out: dict[str, Any] = {}
        for f in SPEC_FIELDS:
            value = data.get(f.name)
            if isinstance(value, str):
                out[f.name] = [part.strip() for part in value.split(",") if part.strip()]
            else:
                out[f.name] = value
        return out


@login_required
@require_GET
def profiles(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    found = (
        Profile.objects.filter(domain__in=domains_with(user, Perm.DOMAIN_VIEW))
        .select_related("domain")
        .order_by("domain__slug", "name")
    )
    current = {
        (v.profile_id, v.version): v
        for v in ProfileVersion.objects.filter(profile__in=found).select_related("ca", "created_by")
    }
    rows = [(p, current.get((p.pk, p.current_version))) for p in found]
    return render(request, "console/profiles.html", {"rows": rows})


@login_required
@require_GET
def profile_detail(request: HttpRequest, domain: str, name: str) -> HttpResponse:
    user = request_user(request)
    profile = _profile(user, domain, name)
    versions = list(profile.versions.select_related("ca", "created_by").order_by("-version"))
    if not versions:
        raise Http404("the profile has no version")
    wanted = request.GET.get("version", "")
    version = next((v for v in versions if str(v.version) == wanted), versions[0])
    previous = next((v for v in versions if v.version == version.version - 1), None)
    changes = {
        rule: {"before": shown(change["before"]), "after": shown(change["after"])}
        for rule, change in (service.diff(previous.spec, version.spec) if previous else {}).items()
    }
    if previous and previous.ca_id != version.ca_id:
        changes["signing CA"] = {"before": previous.ca.slug, "after": version.ca.slug}
    context = {
        "profile": profile,
        "shown": version,
        "previous": previous,
        "changes": changes,
        "rules": [(f.name, shown(version.spec.get(f.name))) for f in SPEC_FIELDS],
        "versions": versions,
        "may_edit": has_perm(user, Perm.PROFILES_CHANGE, profile.domain),
    }
    return render(request, "console/profile_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def profile_edit(request: HttpRequest, domain: str, name: str) -> HttpResponse:
    user = request_user(request)
    profile = _profile(user, domain, name)
    if not has_perm(user, Perm.PROFILES_CHANGE, profile.domain):
        raise Forbidden(
            f"you do not hold {Perm.PROFILES_CHANGE.value} in domain {profile.domain.slug}"
        )
    latest = service.current(profile)
    if request.method == "POST":
        form = SpecForm(request.POST, profile=profile)
        if form.is_valid():
            try:
                version = service.save_profile(
                    profile.domain,
                    profile.name,
                    form.spec(),
                    form.cleaned_data["ca"],
                    actor=user,
                    description=form.cleaned_data["description"],
                    comment=form.cleaned_data["comment"],
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                if version.pk == latest.pk:
                    messages.info(request, "Nothing in the rules changed: no new version.")
                else:
                    messages.success(request, f"Saved as version {version.version}.")
                url = f"/profiles/{profile.domain.slug}/{profile.name}/?version={version.version}"
                return redirect(url)
    else:
        form = SpecForm(initial=SpecForm.initial_for(latest, profile), profile=profile)
    return render(
        request, "console/profile_edit.html", {"profile": profile, "form": form, "latest": latest}
    )
