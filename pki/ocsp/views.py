"""/ocsp/<ca>/ in Django: POST with the DER request as body, GET with the base64 request in
the path (RFC 6960 Appendix A.1). Light on purpose: no session, no CSRF, no template; the
answer comes from pki.services.ocsp_respond like the lean responder's (pki.ocsp.server)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from pki.services import ocsp_respond

MAX_REQUEST = 64 * 1024  # a one-CertID request is ~100 octets; anything this large is not one


def _http(answer: ocsp_respond.Answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status_code)
    for name, value in answer.headers.items():
        response[name] = value
    return response


@csrf_exempt
def ocsp_post(request: HttpRequest, ca: str) -> HttpResponse:
    if request.method == "GET" or request.method == "HEAD":
        # GET /ocsp/<ca>/ with nothing after the slash: no request to answer.
        return _http(ocsp_respond.MALFORMED)
    if request.method != "POST":
        response = HttpResponse(status=405)
        response["Allow"] = "GET, POST"
        return response
    body = request.read(MAX_REQUEST + 1)
    if len(body) > MAX_REQUEST:
        return _http(ocsp_respond.MALFORMED)
    return _http(ocsp_respond.respond(ca, body, method="POST"))


@csrf_exempt
def ocsp_get(request: HttpRequest, ca: str, encoded: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = HttpResponse(status=405)
        response["Allow"] = "GET, POST"
        return response
    der = ocsp_respond.request_from_path(encoded)
    return _http(ocsp_respond.respond(ca, der, method="GET"))
