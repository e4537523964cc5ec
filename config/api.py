"""API-wide error shape: every error is JSON {"detail": ..., "code": ...}, never an HTML page."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser as DRFJSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import Conflict, NotFound, Unavailable

logger = logging.getLogger(__name__)


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "conflict"
    default_code = "conflict"


class UnavailableError(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "unavailable"
    default_code = "unavailable"

    def __init__(self, detail: str, code: str, wait: int) -> None:
        super().__init__(detail, code)
        self.wait = wait  # DRF's handler turns it into Retry-After


class JSONParser(DRFJSONParser):
    """DRF's JSON parser, but a body nested too deep for the decoder, or one with a NUL
    character in a string, is a 400 rather than a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from None
        if _has_nul(data):
            # PostgreSQL stores no NUL in text or jsonb: refuse it here, not with a 500 later.
            raise exceptions.ParseError("NUL characters (\\u0000) are not accepted")
        return data


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    reasons: list[str] | None = None
    if isinstance(exc, ValidationError):
        exc = exceptions.ValidationError(detail=exc.messages)
    elif isinstance(exc, Conflict):
        exc = ConflictError(detail=exc.detail, code=exc.code)
    elif isinstance(exc, RequestDataTooBig):
        # Django refuses the body when the view reads it; without this it would be a 500.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = exceptions.ParseError(
            f"the request body is larger than the {limit} bytes allowed", code="too_large"
        )
    elif isinstance(exc, Unavailable):
        exc = UnavailableError(exc.detail, exc.code, exc.retry_after)
    elif isinstance(exc, NotFound):
        exc = exceptions.NotFound(detail=str(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(detail=str(exc) or None)
    elif isinstance(exc, PermissionDenied):
        reasons = getattr(exc, "reasons", None)
        code = getattr(exc, "code", None) or "permission_denied"
        exc = exceptions.PermissionDenied(detail=str(exc) or None, code=code)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    if request is not None:
        # Errors are JSON whatever the view renders on success (the schema view's YAML, or
        # an Accept header no renderer satisfies).
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    data = response.data
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "invalid"
        if isinstance(data, dict) and "detail" in data:
            response.data = {"detail": data["detail"], "code": code}
        else:
            response.data = {"detail": _first_message(data), "code": code, "errors": data}
        if reasons:
            response.data["reasons"] = reasons
    return response


def _first_message(data: Any) -> str:
    """The first human-readable reason in a nested DRF error structure."""
    if isinstance(data, dict):
        for key, value in data.items():
            inner = _first_message(value)
            return inner if key == "non_field_errors" else f"{key}: {inner}"
    if isinstance(data, list) and data:
        return _first_message(data[0])
    return str(data) if data else "invalid input"


def _json_error(status_code: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status_code)


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if is_api(request):
        return _json_error(status.HTTP_404_NOT_FOUND, "not found", "not_found")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


def handler403(request: HttpRequest, exception: Exception | None = None) -> Any:
    if is_api(request):
        return _json_error(status.HTTP_403_FORBIDDEN, str(exception or "forbidden"), "forbidden")
    from django.views.defaults import permission_denied

    return permission_denied(request, exception or PermissionDenied())


def handler500(request: HttpRequest) -> Any:
    if is_api(request):
        return _json_error(status.HTTP_500_INTERNAL_SERVER_ERROR, "server error", "error")
    from django.views.defaults import server_error

    return server_error(request)
