"""Security headers Django does not set itself."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
