"""The password a person gives a PKCS#12 the server makes (console "new key", a device's
domain credential, a one-time onboarding link): typed twice, at least MIN_PASSWORD long."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from pki.services.server_keys import MAX_PASSWORD, MIN_PASSWORD


class Pkcs12PasswordForm(forms.Form):
    password = forms.CharField(
        label="PKCS#12 password", min_length=MIN_PASSWORD, max_length=MAX_PASSWORD,
        strip=False, widget=forms.PasswordInput(render_value=False),
    )  # fmt: skip
    password_again = forms.CharField(
        label="The password again", max_length=MAX_PASSWORD, strip=False,
        widget=forms.PasswordInput(render_value=False),
    )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            raise ValidationError("the two passwords differ")
        return data
