"""Revoking a certificate, and releasing a hold, from its page in the console.

The form posts here; pki.services.revocation decides (it refuses anyone without
certs.revoke in the certificate's domain) and the page shows the outcome.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.roles import Perm, has_perm
from config.errors import Conflict, Forbidden, reason_of
from console.users import request_user
from console.views_certificates import _visible_certificates
from pki.models import IssuedCertificate, Reason
from pki.services import revocation


class RevokeForm(forms.Form):
    reason = forms.ChoiceField(choices=[(r.value, r.value) for r in Reason])
    invalidity_date = forms.DateTimeField(
        required=False,
        label="Invalidity date (UTC, optional)",
        help_text="when the key is known or suspected to have been compromised",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


def may_revoke(request: HttpRequest, cert: IssuedCertificate) -> bool:
    return has_perm(request_user(request), Perm.CERTS_REVOKE, cert.domain)


def _certificate(request: HttpRequest, serial: str) -> IssuedCertificate:
    cert = _visible_certificates(request_user(request)).filter(serial=serial.upper()).first()
    if cert is None:
        raise Http404("no such certificate")
    return cert


@login_required
@require_POST
def certificate_revoke(request: HttpRequest, serial: str) -> HttpResponse:
    cert = _certificate(request, serial)
    form = RevokeForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError([str(e) for errs in form.errors.values() for e in errs])
        done = revocation.revoke(
            cert,
            form.cleaned_data["reason"],
            actor=request_user(request),
            invalidity_date=form.cleaned_data["invalidity_date"],
        )
    except (Forbidden, ValidationError) as exc:
        messages.error(request, f"Not revoked: {reason_of(exc)}")
        return redirect("console:certificate", serial=cert.serial)
    if done.changed:
        messages.success(request, f"Certificate {cert.serial} revoked ({done.revocation.reason}).")
    else:
        messages.info(request, f"Certificate {cert.serial} was already revoked.")
    return redirect("console:certificate", serial=cert.serial)


@login_required
@require_POST
def certificate_release(request: HttpRequest, serial: str) -> HttpResponse:
    cert = _certificate(request, serial)
    try:
        revocation.release_hold(cert, actor=request_user(request))
    except (Forbidden, Conflict) as exc:
        messages.error(request, f"Not released: {reason_of(exc)}")
    else:
        messages.success(request, f"Hold on {cert.serial} released: the certificate is valid.")
    return redirect("console:certificate", serial=cert.serial)
