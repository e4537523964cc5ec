"""Errors the services raise; the API maps them to 400 / 403 / 409 with the reason."""

from django.core.exceptions import PermissionDenied, ValidationError


class Forbidden(PermissionDenied):
    """The actor may not do this (403). `reasons` lists every rule broken, when several are."""

    def __init__(
        self, detail: str = "", *, code: str = "permission_denied", reasons: list[str] | None = None
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.reasons = list(reasons or [])


class Conflict(Exception):
    """The request clashes with the object's state (409): decided twice, not pending, …"""

    def __init__(self, detail: str, code: str = "conflict") -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


class Unavailable(Exception):
    """Cannot be done now, maybe soon (503 with Retry-After): no CA to sign, an upstream down."""

    code = "unavailable"
    retry_after = 30  # seconds

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(Exception):
    """No such object (404)."""


def reason_of(exc: Exception) -> str:
    """The refusal's reason as a person reads it (a ValidationError's messages, joined)."""
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


def refusal(exc: Exception) -> tuple[list[str], int] | None:
    """A console page's answer to a refused change: every reason and the HTTP status
    (None for an exception that is not a refusal)."""
    if isinstance(exc, ValidationError):
        return [reason_of(exc)], 400
    if isinstance(exc, Forbidden):
        return exc.reasons or [reason_of(exc)], 403
    if isinstance(exc, PermissionDenied):
        return [reason_of(exc)], 403
    if isinstance(exc, Conflict):
        return [exc.detail], 409
    if isinstance(exc, Unavailable):
        return [exc.detail], 503
    return None
