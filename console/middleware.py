"""Security headers Django does not set itself, and URLs no view should ever see."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

# No inline script, no third-party origin: the console's JS and CSS are our own static files.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
_PUBLIC_PREFIXES = ("/static/", "/ocsp/", "/crl/", "/ca/", "/.well-known/", "/acme/")


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/admin/"):  # the admin ships inline scripts
            response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        # Pages and API answers are per user: no shared cache may keep them. Protocol
        # answers (OCSP, CRL) set their own caching headers.
        if not request.path.startswith(_PUBLIC_PREFIXES):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


class RejectNulMiddleware:
    """A NUL character in the path or the query string is a 400 before any view runs.

    No valid URL carries one, and PostgreSQL refuses it in text (a DataError, so a 500)
    wherever a view would use the value in a query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.GET
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in v for v in query.getlist(key)) for key in query
        ):
            detail = "NUL characters are not accepted in the URL"
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": detail, "code": "parse_error"}, status=400)
            return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
