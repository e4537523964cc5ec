"""Public distribution points: what relying parties fetch without logging in.

/ca/<ca>.crt is the caIssuers URL of every certificate we issue (RFC 5280 §4.2.2.1): one
DER certificate served as application/pkix-cert (RFC 2585 §4.1).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import http_date, quote_etag
from django.views.decorators.http import condition, require_safe

from pki.models import CertificateAuthority


def _ca(slug: str) -> CertificateAuthority:
    ca = (
        CertificateAuthority.objects.filter(slug=slug)
        .only("certificate", "fingerprint", "created_at")
        .first()
    )
    if ca is None:
        raise Http404(f"no CA {slug}")
    return ca


def _etag(request: HttpRequest, slug: str) -> str | None:
    fingerprint = (
        CertificateAuthority.objects.filter(slug=slug).values_list("fingerprint", flat=True).first()
    )
    return quote_etag(fingerprint) if fingerprint else None


@require_safe
@condition(etag_func=_etag)
def ca_certificate(request: HttpRequest, slug: str) -> HttpResponse:
    ca = _ca(slug)
    response = HttpResponse(bytes(ca.certificate), content_type="application/pkix-cert")
    response["Content-Disposition"] = f'inline; filename="{slug}.crt"'
    # A CA certificate never changes under its URL; a day keeps caches fresh enough for a
    # rotation (which gets a new slug) without hammering us.
    response["Cache-Control"] = "public, max-age=86400"
    response["Last-Modified"] = http_date(ca.created_at.timestamp())
    return response
