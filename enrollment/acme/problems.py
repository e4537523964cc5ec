"""ACME errors (RFC 8555 §6.7): problem documents (RFC 7807) with urn:ietf:params:acme:error
types. Services raise AcmeProblem; the views encode it."""

from __future__ import annotations

from typing import Any

PREFIX = "urn:ietf:params:acme:error:"


class AcmeProblem(Exception):
    def __init__(
        self,
        kind: str,
        detail: str,
        status: int = 400,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def document(self) -> dict[str, Any]:
        return {
            "type": PREFIX + self.kind,
            "detail": self.detail,
            "status": self.status,
            **self.extra,
        }


def malformed(detail: str) -> AcmeProblem:
    return AcmeProblem("malformed", detail)


def unauthorized(detail: str) -> AcmeProblem:
    return AcmeProblem("unauthorized", detail, 403)


def not_found(detail: str = "no such resource") -> AcmeProblem:
    return AcmeProblem("malformed", detail, 404)
