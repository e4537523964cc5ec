"""Challenge checks, run by Celery workers (RFC 8555 §8): http-01 (§8.3).

Ports and the resolver are settings, as Pebble allows, for tests and private networks:
ANCHORAGE_ACME_HTTP01_PORT (80), ANCHORAGE_ACME_TLSALPN01_PORT (443), and
ANCHORAGE_ACME_RESOLVE ("demo.test=127.0.0.1,…": every name under the suffix resolves there).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
from typing import Any

from django.conf import settings

from enrollment.acme.problems import AcmeProblem

TIMEOUT = 10.0
MAX_BODY = 8192


class ValidationFailed(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = AcmeProblem(kind, detail)


def resolve(name: str) -> str:
    """The address to connect to for `name` (an IP identifier is its own address)."""
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    for suffix, address in settings.ANCHORAGE_ACME_RESOLVE.items():
        if name == suffix or name.endswith("." + suffix):
            return address
    try:
        return str(socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)[0][4][0])
    except (OSError, IndexError) as exc:
        raise ValidationFailed("dns", f"cannot resolve {name}: {exc}") from None


def http01(name: str, token: str, key_authorization: str) -> None:
    """§8.3: GET http://<name>:<port>/.well-known/acme-challenge/<token> answers the key
    authorization (trailing whitespace ignored). Redirects are not followed."""
    address = resolve(name)
    port = settings.ANCHORAGE_ACME_HTTP01_PORT
    host = f"[{name}]" if ":" in name else name
    connection = http.client.HTTPConnection(address, port, timeout=TIMEOUT)
    try:
        connection.request(
            "GET",
            f"/.well-known/acme-challenge/{token}",
            headers={
                "Host": host if port == 80 else f"{host}:{port}",
                "User-Agent": "anchorage-acme",
            },
        )
        response = connection.getresponse()
        body = response.read(MAX_BODY + 1)
    except (OSError, http.client.HTTPException) as exc:
        raise ValidationFailed(
            "connection", f"http-01 to {name} ({address}:{port}): {exc}"
        ) from None
    finally:
        connection.close()
    if response.status != 200:
        raise ValidationFailed(
            "unauthorized", f"http-01 to {name}: HTTP {response.status}, expected 200"
        )
    if body.rstrip(b" \t\r\n").decode("utf-8", "replace") != key_authorization:
        raise ValidationFailed("incorrectResponse", f"http-01 to {name}: wrong key authorization")


def check(kind: str, name: str, token: str, key_authorization: str) -> dict[str, Any] | None:
    """None when the challenge holds, else the problem document saying why not."""
    try:
        if kind == "http-01":
            http01(name, token, key_authorization)
        else:
            raise ValidationFailed("malformed", f"challenge type {kind} is not supported")
    except ValidationFailed as failed:
        return failed.problem.document()
    return None
