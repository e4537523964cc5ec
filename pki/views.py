"""Public distribution points: what relying parties fetch without logging in.

/ca/<ca>.crt is the caIssuers URL of every certificate we issue (RFC 5280 §4.2.2.1): one
DER certificate served as application/pkix-cert (RFC 2585 §4.1). /crl/<ca>.crl and
/crl/<ca>.delta.crl are its CRL distribution point and FreshestCRL: the latest complete and
delta CRL, DER, application/pkix-crl (RFC 2585 §4.2), cacheable until shortly before the next
one (RFC 5019 §6 style headers, so a CDN can carry them).
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, quote_etag
from django.views.decorators.http import require_safe

from pki.models import CertificateAuthority, Crl
from pki.services import crl_storage, crls


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


@require_safe
def crl_complete(request: HttpRequest, slug: str) -> HttpResponse:
    return _crl(request, slug, delta=False)


@require_safe
def crl_delta(request: HttpRequest, slug: str) -> HttpResponse:
    return _crl(request, slug, delta=True)


def _crl(request: HttpRequest, slug: str, *, delta: bool) -> HttpResponse:
    found = crls.latest(slug, delta=delta) or _first(slug, delta=delta)
    etag = quote_etag(found.sha256)
    last_modified = int(found.this_update.timestamp())
    # Answered from the row without its DER (deferred): a 304 never reads the CRL itself.
    not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
    response = not_modified or HttpResponse(
        crl_storage.load(found), content_type="application/pkix-crl"
    )
    if not_modified is None:
        name = f"{slug}.delta.crl" if delta else f"{slug}.crl"
        response["Content-Disposition"] = f'inline; filename="{name}"'
    # Fresh until nextUpdate, but fetched again at least every delta period: a revocation
    # reaches caches within that (the CRL itself is valid much longer, see settings).
    left = int((found.next_update - timezone.now()).total_seconds())
    max_age = max(0, min(left, settings.ANCHORAGE_CRL_DELTA_SECONDS))
    response["Cache-Control"] = f"public, max-age={max_age}, no-transform"
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    response["Expires"] = http_date(found.next_update.timestamp())
    return response


def _first(slug: str, *, delta: bool) -> Crl:
    """A CA without a CRL yet (made without a ceremony, or its first task not run yet) gets
    one now rather than a 503: relying parties that check CRLs fail hard without one, and a
    CA that never published has few entries, so it is quick."""
    ca = CertificateAuthority.objects.filter(slug=slug).select_related("domain").first()
    if ca is None:
        raise Http404(f"no CA {slug}")
    if not crls.publishes(ca):
        raise Http404(f"CA {slug} publishes no CRL here")
    crls.publish_first(ca)
    found = crls.latest(slug, delta=delta)
    if found is None:  # retired between the two reads
        raise Http404(f"no CRL of CA {slug}")
    return found
