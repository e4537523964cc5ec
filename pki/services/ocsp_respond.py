"""The OCSP request path: one request in, one DER OCSPResponse out, never an exception.

Shared by the Django view (pki.ocsp.views) and the lean responder (pki.ocsp.server). The
answer is the response signed ahead of time; only a nonce request (RFC 8954, echoed, signed
live) and a serial we never issued (`unknown`, signed live, remembered in a small LRU) sign
here. Lookups are passed in, so the responder process can answer from its cache and fall
back to the database off its event loop (Miss).

HTTP status: 200 with the OCSPResponse, and for errors 400 (malformedRequest), 200
(unauthorized: a well-formed request this responder is not authoritative for) and 503 with
Retry-After (tryLater, internalError): never a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from django.conf import settings
from django.utils.http import http_date

from pki.crypto import certs, ocsp
from pki.models import CertificateAuthority, IssuedCertificate, OcspResponse
from pki.services.ocsp import issuer_hashes, loaded_responder, signs_own_ocsp

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/ocsp-response"
UNKNOWN_SECONDS = 3600  # an unknown serial's answer: it may be issued (by chance) later


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Issuer:
    ca_id: int
    slug: str
    hashes: dict[str, tuple[bytes, bytes]]


@dataclass(frozen=True)
class Stored:
    """A response signed ahead of time, as the request path needs it."""

    status: str
    revoked_at: datetime | None
    reason: str
    not_after: datetime | None
    sha1: bytes
    sha256: bytes
    this_update: datetime
    next_update: datetime

    def body(self, algorithm: str) -> bytes:
        return self.sha1 if algorithm == "sha1" else self.sha256


class Miss(Exception):
    """The responder's cache cannot answer; the database can (off the event loop)."""


IssuerLookup = Callable[[str], "Issuer | None"]
StoredLookup = Callable[[int, str], "Stored | None"]

# --- answers ---------------------------------------------------------------------------------


def _error(body: bytes, status_code: int) -> Answer:
    headers = {"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"}
    if status_code == 503:
        headers["Retry-After"] = "5"
    return Answer(status_code, body, headers)


MALFORMED = _error(ocsp.MALFORMED_REQUEST, 400)
UNAUTHORIZED = _error(ocsp.UNAUTHORIZED, 200)
TRY_LATER = _error(ocsp.TRY_LATER, 503)
INTERNAL_ERROR = _error(ocsp.INTERNAL_ERROR, 503)
_POST_HEADERS = {"Content-Type": CONTENT_TYPE}


def signed_answer(
    body: bytes, this_update: datetime, next_update: datetime, method: str, now: float
) -> Answer:
    """A signed response; a GET one with the caching headers of RFC 5019 §6.2."""
    if method != "GET":
        return Answer(200, body, _POST_HEADERS)
    left = int(next_update.timestamp() - now)
    max_age = max(0, min(left, settings.ANCHORAGE_OCSP_MAX_AGE_SECONDS))
    return Answer(
        200,
        body,
        {
            "Content-Type": CONTENT_TYPE,
            "Cache-Control": f"max-age={max_age}, public, no-transform, must-revalidate",
            "ETag": '"' + hashlib.sha256(body).hexdigest()[:40] + '"',
            "Last-Modified": http_date(this_update.timestamp()),
            "Expires": http_date(next_update.timestamp()),
        },
    )


def request_from_path(path: str) -> bytes:
    """The DER request of a GET (RFC 6960 Appendix A.1: base64, then URL-encoded). Django
    has URL-decoded the path already; decoding again is harmless as base64 has no '%'. A
    '+' some clients send as a space is put back. b"" when it is not base64."""
    text = unquote(path).replace(" ", "+")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return b""


# --- lookups ---------------------------------------------------------------------------------

_issuers: dict[str, tuple[Issuer | None, float]] = {}
# A CA never changes under its slug while it exists, but a CA made later (or one deleted
# before it issued anything) may take a slug: entries are looked at again after a while.
_KNOWN_SECONDS, _UNKNOWN_SECONDS = 300.0, 30.0


def issuer_from_db(slug: str) -> Issuer | None:
    """The CA behind a URL slug and its CertID hashes; None when there is no such CA or it
    is an upstream one (its OCSP is the upstream's). Kept per process."""
    found = _issuers.get(slug)
    if found is not None and found[1] > time.monotonic():
        return found[0]
    ca = CertificateAuthority.objects.filter(slug=slug).first()
    issuer = None
    if ca is not None and signs_own_ocsp(ca):
        issuer = Issuer(ca.pk, ca.slug, issuer_hashes(ca))
    ttl = _KNOWN_SECONDS if issuer is not None else _UNKNOWN_SECONDS
    _issuers[slug] = (issuer, time.monotonic() + ttl)
    return issuer


def issuer_cached(slug: str) -> Issuer | None:
    found = _issuers.get(slug)
    if found is None or found[1] <= time.monotonic():
        raise Miss(slug)
    return found[0]


def forget() -> None:
    """Drop what this process remembers (tests that make CAs under the same slugs)."""
    _issuers.clear()
    _responders.clear()
    unknown_answers.items.clear()


STORED_FIELDS = (
    "status",
    "revoked_at",
    "reason",
    "not_after",
    "sha1",
    "sha256",
    "this_update",
    "next_update",
)


def stored_from_db(ca_id: int, serial: str) -> Stored | None:
    row = (
        OcspResponse.objects.filter(ca_id=ca_id, serial=serial).values_list(*STORED_FIELDS).first()
    )
    return None if row is None else stored_of(row)


def stored_of(row: tuple[Any, ...]) -> Stored:
    status, revoked_at, reason, not_after, sha1, sha256, this_update, next_update = row
    return Stored(
        status, revoked_at, reason, not_after, bytes(sha1), bytes(sha256), this_update, next_update
    )


class _Lru:
    """Answers to serials we never issued, so a client polling one costs one signature."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple[int, str, int], Stored] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[int, str, int]) -> Stored | None:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def put(self, key: tuple[int, str, int], value: Stored) -> None:
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)


unknown_answers = _Lru(4096)

# --- the request path --------------------------------------------------------------------------


def respond(
    ca_slug: str,
    request_der: bytes,
    *,
    method: str,
    issuers: IssuerLookup = issuer_from_db,
    lookup: StoredLookup = stored_from_db,
    signing: bool = True,
) -> Answer:
    """The answer to one OCSP request for the CA of `ca_slug`. Raises only Miss: when the
    lookups passed in raise it, or when the answer must be signed and `signing` is off (the
    responder's event loop); anything unexpected is internalError."""
    try:
        return _respond(ca_slug, request_der, method, issuers, lookup, signing)
    except Miss:
        raise
    except Exception:
        logger.exception("OCSP request for %s failed", ca_slug)
        return INTERNAL_ERROR


def _respond(
    ca_slug: str,
    der: bytes,
    method: str,
    issuers: IssuerLookup,
    lookup: StoredLookup,
    signing: bool,
) -> Answer:
    try:
        request = ocsp.parse_request(der)
    except ocsp.MalformedRequest:
        return MALFORMED
    cert_id = request.cert_id
    issuer = issuers(ca_slug)
    # RFC 6960 §2.3 / RFC 5019 §2.2.3: a CertID of another issuer is not ours to answer.
    if issuer is None or issuer.hashes[cert_id.hash_algorithm] != (
        cert_id.issuer_name_hash,
        cert_id.issuer_key_hash,
    ):
        return UNAUTHORIZED
    serial = certs.serial_hex(cert_id.serial)
    stored = lookup(issuer.ca_id, serial)
    now = time.time()
    if stored is None:
        if not signing:
            raise Miss(serial)
        return _unknown(issuer, cert_id, method, now)
    if stored.next_update.timestamp() <= now:
        # Not refreshed in time: an expired certificate's status is no longer kept (RFC 6960
        # §2.2 lets us decline); for a valid one the refresh is late, ask again shortly.
        expired = stored.not_after is not None and stored.not_after.timestamp() < now
        return UNAUTHORIZED if expired else TRY_LATER
    if request.nonce is not None:
        if not signing:
            raise Miss(serial)
        return _live(issuer, cert_id, stored, request.nonce)
    return signed_answer(
        stored.body(cert_id.hash_algorithm), stored.this_update, stored.next_update, method, now
    )


def _live(issuer: Issuer, cert_id: ocsp.CertId, stored: Stored, nonce: bytes) -> Answer:
    """RFC 8954: the nonce is echoed, so the response is signed for this request alone and
    must not be cached."""
    this_update = certs.now()
    next_update = this_update + timedelta(seconds=settings.ANCHORAGE_OCSP_VALIDITY_SECONDS)
    answer = ocsp.Answer(
        stored.status, this_update, next_update, stored.revoked_at, stored.reason or None
    )
    body = _responder(issuer).sign(cert_id, answer, nonce)
    return Answer(200, body, {"Content-Type": CONTENT_TYPE, "Cache-Control": "no-cache"})


def _unknown(issuer: Issuer, cert_id: ocsp.CertId, method: str, now: float) -> Answer:
    key = (issuer.ca_id, cert_id.hash_algorithm, cert_id.serial)
    found = unknown_answers.get(key)
    if found is None or found.next_update.timestamp() <= now + 60:
        # Issued after all (our cache was late, or the certificate predates the responder):
        # ask again once the refresh task has signed it.
        serial = certs.serial_hex(cert_id.serial)
        if IssuedCertificate.objects.filter(ca_id=issuer.ca_id, serial=serial).exists():
            return TRY_LATER
        this_update = certs.now()
        answer = ocsp.Answer(
            "unknown", this_update, this_update + timedelta(seconds=UNKNOWN_SECONDS)
        )
        body = _responder(issuer).sign(cert_id, answer)
        found = Stored("unknown", None, "", None, body, body, this_update, answer.next_update)
        unknown_answers.put(key, found)
    return signed_answer(found.sha1, found.this_update, found.next_update, method, now)


_responders: dict[int, tuple[ocsp.Responder, float]] = {}


def _responder(issuer: Issuer) -> ocsp.Responder:
    found = _responders.get(issuer.ca_id)
    if found is None or found[1] < time.monotonic():
        ca = CertificateAuthority.objects.get(pk=issuer.ca_id)
        _, loaded = loaded_responder(ca)
        found = (loaded, time.monotonic() + 60)
        _responders[issuer.ca_id] = found
    return found[0]
