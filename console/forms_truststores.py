"""The "New truststore request" form: the bundle comes as a file or as a paste. What a bundle
may be (PEM, PKCS#7, DER; no private key; size) is truststores.services' to decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from pki.crypto.bundles import MAX_BYTES
from pki.models import Domain
from truststores.models import TruststoreType

# Past this a file is not even read; below it the validator gives its own, exact reason.
MAX_UPLOAD = 2 * MAX_BYTES


class TruststoreForm(forms.Form):
    domain = forms.ChoiceField(label="Domain")
    truststore_type = forms.ChoiceField(
        label="Type", choices=[(t, t) for t in TruststoreType.values]
    )
    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    bundle_file = forms.FileField(
        label="Upload the bundle (PEM, PKCS#7 or DER)",
        required=False,
        allow_empty_file=True,  # the service says why an empty bundle is refused
    )
    bundle_text = forms.CharField(
        label="…or paste it (PEM)",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, domains: list[Domain], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.domains = {d.slug: d for d in domains}
        self.fields["domain"].choices = [(s, s) for s in self.domains]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("bundle_file")
        text = str(data.get("bundle_text") or "")
        if upload is not None and text.strip():
            raise ValidationError("upload a file or paste the bundle, not both")
        if upload is not None:
            if upload.size is None or upload.size > MAX_UPLOAD:
                raise ValidationError(
                    f"bundle refused: the bundle is larger than {MAX_BYTES // (1024 * 1024)} MB"
                )
            data["bundle"] = upload.read()
        elif text.strip():
            data["bundle"] = text.encode("utf-8", errors="replace")
        else:
            raise ValidationError("upload a bundle file or paste the PEM bundle")
        return data

    @property
    def chosen_domain(self) -> Domain:
        return self.domains[self.cleaned_data["domain"]]
