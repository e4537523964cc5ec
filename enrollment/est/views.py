"""EST over HTTP (RFC 7030 §3.2, RFC 8951): each view authenticates, authorizes, validates,
issues and encodes, and answers every failure with its status and a text reason: 400
malformed, 401 not authenticated (with WWW-Authenticate), 403 refused, 404 unknown domain,
413 too large, 429 too many failed logins, 503 pool saturated or no CA (with Retry-After).
Never a 500. No session or CSRF: EST clients are devices, authenticated per request."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from config.errors import Conflict, Forbidden, Unavailable, reason_of
from enrollment.est import operations as ops
from enrollment.est.auth import (
    Caller,
    Throttled,
    Unauthenticated,
    client_certificate,
    password_caller,
)
from enrollment.est.pool import slot
from pki.crypto.est import EstCryptoError
from pki.crypto.pkcs import certs_only
from pki.models import Domain
from pki.services.cas import CaUnavailable

logger = logging.getLogger(__name__)

CERTS_ONLY = "application/pkcs7-mime; smime-type=certs-only"
BOUNDARY = "estServerKeyGenBoundary"


def _b64(der: bytes) -> bytes:
    """Base64 as RFC 4648 §4 defines it, one line (RFC 8951 §3 names that encoding; a CR in
    the body would trip `base64 -d`)."""
    return base64.b64encode(der)


def _text(status: int, reason: str, **headers: str) -> HttpResponse:
    response = HttpResponse(reason + "\n", status=status, content_type="text/plain")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _base64_response(der: bytes, content_type: str) -> HttpResponse:
    response = HttpResponse(_b64(der), content_type=content_type)
    response["Content-Transfer-Encoding"] = "base64"
    return response


def _unauthorized(reason: str) -> HttpResponse:
    realm = settings.ANCHORAGE_EST_REALM
    return _text(401, reason, WWW_Authenticate=f'Basic realm="{realm}", charset="UTF-8"')


def _domain(label: str | None) -> Domain | None:
    if label is None:
        return Domain.objects.filter(is_default=True).first()
    return Domain.objects.filter(slug=label).first()


View = Callable[[HttpRequest, Domain], HttpResponse]


def est_view(method: str) -> Callable[[View], Callable[..., HttpResponse]]:
    """The frame every EST view shares: the method, the domain, EST being on, and the
    mapping of every refusal to its status."""

    def wrap(view: View) -> Callable[..., HttpResponse]:
        @csrf_exempt
        def handle(request: HttpRequest, domain: str | None = None) -> HttpResponse:
            if request.method != method:
                return _text(405, f"use {method}", Allow=method)
            found = _domain(domain)
            if found is None:
                what = f"domain {domain}" if domain else "a default domain"
                return _text(404, f"there is no {what} for EST")
            try:
                ops.check_enabled(found, view.__name__)
                return view(request, found)
            except (ops.Malformed, EstCryptoError) as exc:
                return _text(400, str(exc))
            except RequestDataTooBig:
                return _text(413, f"the body is larger than {ops.MAX_BODY} bytes")
            except ValidationError as exc:
                return _text(400, reason_of(exc))
            except Unauthenticated as exc:
                return _unauthorized(str(exc))
            except Throttled as exc:
                return _text(429, str(exc), Retry_After=str(exc.retry_after))
            except ops.Disabled as exc:
                return _text(403, str(exc))
            except Forbidden as exc:
                return _text(403, str(exc))
            except PermissionDenied as exc:
                return _text(403, str(exc) or "forbidden")
            except Conflict as exc:
                return _text(409, exc.detail)
            except Unavailable as exc:
                return _text(503, exc.detail, Retry_After=str(exc.retry_after))
            except CaUnavailable as exc:
                return _text(503, str(exc), Retry_After="30")

        return handle

    return wrap


@est_view("GET")
def cacerts(request: HttpRequest, domain: Domain) -> HttpResponse:
    """§4.1: the CA chain, certs-only, no authentication."""
    return _base64_response(certs_only(ops.ca_chain(domain)), CERTS_ONLY)


@est_view("GET")
def csrattrs(request: HttpRequest, domain: Domain) -> HttpResponse:
    """§4.5: what simpleenroll's profile requires of a CSR, or 204 when nothing."""
    attributes = ops.required_attributes(domain)
    if attributes is None:
        return HttpResponse(status=204)
    return _base64_response(attributes, "application/csrattrs")


def _caller(request: HttpRequest, domain: Domain, *, certificate_required: bool) -> Caller:
    """TLS client certificate first (RFC 7030 §3.3.2), then HTTP Basic (§3.2.3)."""
    certificate = client_certificate(request, domain)
    if certificate is not None:
        return Caller(None, certificate)
    if certificate_required:
        raise Unauthenticated(
            "re-enrollment must be authenticated with the certificate being renewed "
            "(TLS client authentication, RFC 7030 §4.2.2)"
        )
    credential = password_caller(request, domain)
    if credential is None:
        raise Unauthenticated("authentication required: HTTP Basic or a TLS client certificate")
    return Caller(credential, None)


def _enroll(request: HttpRequest, domain: Domain, operation: str) -> ops.Enrolled:
    caller = _caller(request, domain, certificate_required=operation == ops.SIMPLEREENROLL)
    try:
        csr = ops.read_csr(request.body)
    except ops.Malformed as exc:
        ops.refuse(domain, caller, operation, str(exc))
        raise
    with slot():
        return ops.enroll(domain, caller, operation, csr)


@est_view("POST")
def simpleenroll(request: HttpRequest, domain: Domain) -> HttpResponse:
    """§4.2.1: base64 PKCS#10 in, the certificate as base64 certs-only PKCS#7 out."""
    enrolled = _enroll(request, domain, ops.SIMPLEENROLL)
    return _base64_response(certs_only([enrolled.certificate_der]), CERTS_ONLY)


@est_view("POST")
def simplereenroll(request: HttpRequest, domain: Domain) -> HttpResponse:
    """§4.2.2: like simpleenroll, authenticated by the certificate being renewed."""
    enrolled = _enroll(request, domain, ops.SIMPLEREENROLL)
    return _base64_response(certs_only([enrolled.certificate_der]), CERTS_ONLY)


@est_view("POST")
def serverkeygen(request: HttpRequest, domain: Domain) -> HttpResponse:
    """§4.4.2: multipart/mixed with the private key (PKCS#8, RFC 5958) and the certificate
    (certs-only PKCS#7), each base64."""
    enrolled = _enroll(request, domain, ops.SERVERKEYGEN)
    assert enrolled.private_key_pkcs8 is not None
    parts = [
        ("application/pkcs8", enrolled.private_key_pkcs8),
        (CERTS_ONLY, certs_only([enrolled.certificate_der])),
    ]
    body = b"".join(
        b"--" + BOUNDARY.encode() + b"\r\n"
        b"Content-Type: " + kind.encode() + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64(der) + b"\r\n"
        for kind, der in parts
    )
    body += b"--" + BOUNDARY.encode() + b"--\r\n"
    response = HttpResponse(body, content_type=f"multipart/mixed; boundary={BOUNDARY}")
    response["Cache-Control"] = "no-store"
    return response
