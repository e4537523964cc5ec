"""Public distribution points: what relying parties fetch without logging in.

/ca/<ca>.crt is the caIssuers URL of every certificate we issue (RFC 5280 §4.2.2.1): one
DER certificate served as application/pkix-cert (RFC 2585 §4.1).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, quote_etag
from django.views.decorators.http import require_safe

from pki.models import CertificateAuthority


@require_safe
def ca_certificate(request: HttpRequest, slug: str) -> HttpResponse:
    ca = (
        CertificateAuthority.objects.filter(slug=slug)
        .only("certificate", "fingerprint", "created_at")
        .first()
    )
    if ca is None:
        raise Http404(f"no CA {slug}")
    etag = quote_etag(ca.fingerprint)
    last_modified = int(ca.created_at.timestamp())
    # One query answers both the conditional GET (304) and the full one.
    not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
    response = not_modified or HttpResponse(
        bytes(ca.certificate), content_type="application/pkix-cert"
    )
    if not_modified is None:
        response["Content-Disposition"] = f'inline; filename="{slug}.crt"'
    # A CA certificate never changes under its URL; a day keeps caches fresh enough for a
    # rotation (which gets a new slug) without hammering us.
    response["Cache-Control"] = "public, max-age=86400"
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    return response
