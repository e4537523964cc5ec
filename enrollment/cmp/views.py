"""CMP over HTTP (RFC 9811): POST /.well-known/cmp/p/<domain> with application/pkixcmp.
Every answer that can be a PKIMessage is one (an error message carries the failInfo);
405 for another method, 404 for an unknown domain. No session, no CSRF: CMP messages are
protected end to end."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from enrollment.cmp.server import CONTENT_TYPE, handle
from pki.models import Domain


@csrf_exempt
def endpoint(request: HttpRequest, domain: str) -> HttpResponse:
    if request.method != "POST":
        response = HttpResponse(
            "use POST with application/pkixcmp\n", status=405, content_type="text/plain"
        )
        response["Allow"] = "POST"
        return response
    found = Domain.objects.filter(slug=domain).first()
    if found is None:
        return HttpResponse(
            f"there is no domain {domain} for CMP\n", status=404, content_type="text/plain"
        )
    try:
        body = request.body
    except RequestDataTooBig:
        return HttpResponse("the message is too large\n", status=413, content_type="text/plain")
    answer = handle(found, body, request.content_type or "")
    response = HttpResponse(answer.der, status=answer.status, content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return response
