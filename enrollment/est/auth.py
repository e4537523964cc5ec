"""Who is asking, for EST (RFC 7030 §3.2.3, §3.3.2): an enrollment credential over HTTP Basic,
or a TLS client certificate that the trusted TLS proxy (nginx) passes in a header.

A client certificate is accepted when it is one we issued in the domain and it is valid and
not revoked now, or when it chains to the domain's deployed `est` truststore (say a
manufacturer's device identities). The header counts only from a configured proxy address;
anyone else could write it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import logging
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest

from audit.services import record
from enrollment import services
from enrollment.models import Device, DeviceCertificate, EnrollmentCredential
from pki.crypto import certs, est
from pki.models import Domain, IssuedCertificate
from pki.selectors import issued_by_fingerprint
from truststores.services import deployed

logger = logging.getLogger(__name__)


class Unauthenticated(Exception):
    """401: no usable credential. The reason goes in the body."""


class Throttled(Exception):
    """429: too many failed attempts for this username from this address."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed authentication attempts; retry later")
        self.retry_after = retry_after


@dataclass(frozen=True)
class ClientCertificate:
    der: bytes
    fingerprint: str
    issued: IssuedCertificate | None  # when we issued it
    link: DeviceCertificate | None  # when EST issued it


@dataclass(frozen=True)
class Caller:
    """The authenticated EST client."""

    credential: EnrollmentCredential | None
    certificate: ClientCertificate | None

    @property
    def device(self) -> Device | None:
        if self.credential is not None and self.credential.device is not None:
            return self.credential.device
        if self.certificate is not None and self.certificate.link is not None:
            return self.certificate.link.device
        return None

    @property
    def owner(self) -> EnrollmentCredential | None:
        """The credential that authenticated, or the one the client certificate came from."""
        if self.credential is not None:
            return self.credential
        link = self.certificate.link if self.certificate is not None else None
        return link.credential if link is not None else None

    @property
    def requester(self) -> str:
        """Who issue() records as the requester."""
        device = self.device
        if self.credential is not None:
            base = f"est:{self.credential.username}"
        elif self.certificate is not None and self.certificate.issued is not None:
            base = f"est:cert:{self.certificate.issued.serial}"
        else:
            base = f"est:cert:{self.certificate.fingerprint[:32] if self.certificate else '?'}"
        return f"{base} device:{device.name}" if device is not None else base

    @property
    def key_part(self) -> str:
        """The part of an idempotency key that names this caller."""
        if self.credential is not None:
            return f"c{self.credential.pk}"
        return f"t{self.certificate.fingerprint[:32]}" if self.certificate else "-"


@lru_cache(maxsize=8)
def _networks(
    proxies: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def from_trusted_proxy(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in net for net in _networks(tuple(settings.ANCHORAGE_TRUSTED_PROXIES)))


def client_certificate(request: HttpRequest, domain: Domain) -> ClientCertificate | None:
    """The verified client certificate, None when none was presented (or the header did not
    come from a trusted proxy); Unauthenticated when one was presented and is not good."""
    header = request.META.get(settings.ANCHORAGE_EST_CLIENT_CERT_HEADER, "")
    if not header or header == "-":  # nginx sends "" without a certificate
        return None
    if not from_trusted_proxy(request):
        logger.warning(
            "EST: client certificate header from untrusted %s ignored",
            request.META.get("REMOTE_ADDR"),
        )
        return None
    try:
        der = est.proxied_certificate(header)
    except est.EstCryptoError as exc:
        raise Unauthenticated(str(exc)) from None
    fingerprint = hashlib.sha256(der).hexdigest()
    now = certs.now()
    issued = issued_by_fingerprint(domain.pk, fingerprint)
    if issued is not None:
        if issued.status != IssuedCertificate.Status.VALID:
            raise Unauthenticated("the client certificate is revoked")
        if not issued.not_before <= now <= issued.not_after:
            raise Unauthenticated("the client certificate is not valid now")
        link = (
            DeviceCertificate.objects.select_related("device", "credential")
            .filter(certificate=issued)
            .first()
        )
        return ClientCertificate(der, fingerprint, issued, link)
    truststore = deployed(domain, "est")
    if truststore is not None and est.chains_to(der, truststore.bundle.encode(), now):
        return ClientCertificate(der, fingerprint, None, None)
    raise Unauthenticated(
        "the client certificate was not issued in this domain and does not chain to its "
        "EST truststore"
    )


def basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Unauthenticated("the Basic credentials are not base64 of user:password") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthenticated("the Basic credentials are not base64 of user:password")
    if len(username) > 150 or "\x00" in username:  # no such username; PostgreSQL refuses NUL
        raise Unauthenticated("unknown username or wrong password")
    return username, password


def _failures_key(domain: Domain, username: str, request: HttpRequest) -> str:
    who = f"{domain.pk}\0{username.lower()}\0{request.META.get('REMOTE_ADDR', '')}"
    return "est-auth-failures:" + hashlib.sha256(who.encode()).hexdigest()


def password_caller(request: HttpRequest, domain: Domain) -> EnrollmentCredential | None:
    """The credential of the Basic header; None without one. Failures are counted per
    username and address: past ANCHORAGE_EST_MAX_FAILURES, even right guesses are refused
    until the lock-out ends (Throttled)."""
    found = basic_credentials(request)
    if found is None:
        return None
    username, password = found
    key = _failures_key(domain, username, request)
    lockout = settings.ANCHORAGE_EST_LOCKOUT_SECONDS
    failures = cache.get(key) or 0
    if failures >= settings.ANCHORAGE_EST_MAX_FAILURES:
        raise Throttled(lockout)
    credential = services.check_password(domain, username, password)
    if credential is not None:
        if failures:
            cache.delete(key)
        return credential
    if cache.add(key, 1, lockout):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, lockout)
            count = 1
    details = {
        "username": username[:150],
        "address": request.META.get("REMOTE_ADDR", ""),
        "failures": count,
        "locked_out": count >= settings.ANCHORAGE_EST_MAX_FAILURES,
    }
    with transaction.atomic():
        record("est.auth_failed", domain=domain, object_type="est", details=details)
    raise Unauthenticated("unknown username or wrong password")
