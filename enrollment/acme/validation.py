"""Challenge checks, run by Celery workers (RFC 8555 §8): http-01 (§8.3), dns-01 (§8.4) and
tls-alpn-01 (RFC 8737); IP identifiers (RFC 8738) with http-01 and tls-alpn-01.

Ports and the resolver are settings, as Pebble allows, for tests and private networks:
ANCHORAGE_ACME_HTTP01_PORT (80), ANCHORAGE_ACME_TLSALPN01_PORT (443), and
ANCHORAGE_ACME_RESOLVE ("demo.test=127.0.0.1,…": every name under the suffix resolves there).
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import socket
import ssl
from typing import Any

from django.conf import settings

from enrollment.acme import dns
from enrollment.acme.problems import AcmeProblem
from pki.crypto import jose

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


def tls_alpn01(name: str, key_authorization: str) -> None:
    """RFC 8737 §3: a TLS handshake offering only ALPN acme-tls/1, SNI the name (for an IP,
    its reverse-mapping name, RFC 8738 §6), presenting the validation certificate."""
    address = resolve(name)
    port = settings.ANCHORAGE_ACME_TLSALPN01_PORT
    is_ip = _is_ip(name)
    server_name = ipaddress.ip_address(name).reverse_pointer if is_ip else name
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the certificate is self-signed by design
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["acme-tls/1"])
    try:
        with (
            socket.create_connection((address, port), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            protocol = tls.selected_alpn_protocol()
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise ValidationFailed("tls", f"tls-alpn-01 to {name} ({address}:{port}): {exc}") from None
    if protocol != "acme-tls/1":
        raise ValidationFailed("tls", f"tls-alpn-01 to {name}: ALPN acme-tls/1 not negotiated")
    if not der:
        raise ValidationFailed("tls", f"tls-alpn-01 to {name}: no certificate")
    digest = hashlib.sha256(key_authorization.encode()).digest()
    problem = jose.tls_alpn01_problem(der, name, is_ip, digest)
    if problem:
        raise ValidationFailed("incorrectResponse", f"tls-alpn-01 to {name}: {problem}")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def dns01(name: str, key_authorization: str) -> None:
    """RFC 8555 §8.4: a TXT record at _acme-challenge.<name> holding
    base64url(SHA-256(key authorization))."""
    expected = jose.b64u_encode(hashlib.sha256(key_authorization.encode()).digest())
    try:
        found = dns.txt_records(f"_acme-challenge.{name}")
    except dns.DnsError as exc:
        raise ValidationFailed("dns", f"dns-01 for {name}: {exc}") from None
    if expected not in found:
        raise ValidationFailed(
            "incorrectResponse", f"dns-01 for {name}: no TXT record with the expected digest"
        )


def check(kind: str, name: str, token: str, key_authorization: str) -> dict[str, Any] | None:
    """None when the challenge holds, else the problem document saying why not."""
    try:
        if kind == "http-01":
            http01(name, token, key_authorization)
        elif kind == "dns-01":
            dns01(name, key_authorization)
        elif kind == "tls-alpn-01":
            tls_alpn01(name, key_authorization)
        else:
            raise ValidationFailed("malformed", f"challenge type {kind} is not supported")
    except ValidationFailed as failed:
        return failed.problem.document()
    return None
