"""The lean OCSP responder: an asyncio HTTP/1.1 server (keep-alive, pipelining in order)
that answers /ocsp/<ca>/ apart from the web workers, so a flood of OCSP cannot starve the
API (`manage.py ocsp_responder --bind 127.0.0.1:8001 --workers 2`).

Each worker process keeps the pre-signed responses it served in memory, keyed by CertID
(CA, serial; pki.ocsp.cache), and polls OcspResponse.updated_at every second, so a
revocation is answered within about a second of its commit. The event loop never touches
the database: a request the cache cannot answer (first sight of a serial, a nonce to echo,
an unknown serial) goes to a small thread pool, at most ANCHORAGE_OCSP_MAX_PENDING at once;
past that the answer is tryLater (503 with Retry-After). Answers come from
pki.services.ocsp_respond.respond, the core the Django view uses too.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate

from django.conf import settings
from django.db import close_old_connections

from pki.ocsp.cache import Key, ResponseCache
from pki.services import ocsp_respond
from pki.services.ocsp_respond import Answer, Miss, Stored

logger = logging.getLogger(__name__)

MAX_HEAD = 8192
MAX_BODY = 64 * 1024
POLL_SECONDS = 1.0
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
REASONS |= {413: "Payload Too Large", 503: "Service Unavailable"}

_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]{1,9})[ \t]*(?:\r\n|$)", re.I)
_CONNECTION = re.compile(rb"\r\nconnection:([^\r\n]*)", re.I)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:", re.I)


class Responder:
    """One worker's state: the cache, the thread pool and the count of waiting requests."""

    def __init__(self, cache_size: int, threads: int, max_pending: int) -> None:
        self.cache = ResponseCache(cache_size)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="ocsp-db")
        self.poller = ThreadPoolExecutor(1, thread_name_prefix="ocsp-poll")
        self.max_pending = max_pending
        self.pending = 0
        # (slug, request) → (cache key, response, its nextUpdate, HTTP head, body)
        self.replays: dict[tuple[str, bytes], tuple[Key, Stored, float, bytes, bytes]] = {}

    def fast(
        self, slug: str, der: bytes, method: str, keep_alive: bool = True
    ) -> bytes | Answer | None:
        """On the event loop: the rendered answer (keep-alive) of a POST seen before whose
        response has not changed since (bytes), else the core's answer from the cache
        (Answer), else None (Miss: the pool must ask the database)."""
        replay = self.replays.get((slug, der)) if method == "POST" and keep_alive else None
        if replay is not None:
            key, stored, expires, head, body = replay
            found = self.cache.items.get(key)
            if found is not None and found[0] is stored and expires > time.time():
                return head + _date_header() + b"\r\n\r\n" + body
        seen: list[tuple[Key, Stored]] = []

        def lookup(ca_id: int, serial: str) -> Stored | None:
            stored = self.cache.get(ca_id, serial)
            if stored is not None:
                seen.append(((ca_id, serial), stored))
            return stored

        try:
            answer = ocsp_respond.respond(
                slug,
                der,
                method=method,
                issuers=ocsp_respond.issuer_cached,
                lookup=lookup,
                signing=False,
            )
        except Miss:
            return None
        if method == "POST" and seen and answer.body in (seen[0][1].sha1, seen[0][1].sha256):
            # The pre-signed response itself: replayed until the poll replaces it.
            if len(self.replays) >= self.cache.size:
                del self.replays[next(iter(self.replays))]
            head = render(answer, True, head_only=True).rsplit(b"Date: ", 1)[0] + b"Date: "
            expires = seen[0][1].next_update.timestamp()
            self.replays[(slug, der)] = (seen[0][0], seen[0][1], expires, head, answer.body)
        return answer

    def slow(self, slug: str, der: bytes, method: str) -> Answer:
        """In a pool thread: the same core with the database behind the cache."""
        close_old_connections()
        return ocsp_respond.respond(slug, der, method=method, lookup=self.cache.fetch)

    async def poll_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await loop.run_in_executor(self.poller, self._poll)
            except Exception:  # the database away for a moment: poll again next second
                logger.exception("polling OCSP responses failed")

    def _poll(self) -> int:
        close_old_connections()
        return self.cache.poll()


_date: tuple[int, bytes] = (0, b"")


def _date_header() -> bytes:
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True).encode())
    return _date[1]


def render(answer: Answer, keep_alive: bool, head_only: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {answer.status_code} {REASONS.get(answer.status_code, 'OK')}"]
    lines += [f"{name}: {value}" for name, value in answer.headers.items()]
    lines.append(f"Content-Length: {len(answer.body)}")
    if not keep_alive:
        lines.append("Connection: close")
    head = "\r\n".join(lines).encode() + b"\r\nDate: " + _date_header() + b"\r\n\r\n"
    return head if head_only else head + answer.body


def _plain(status: int, text: str) -> Answer:
    return Answer(status, text.encode(), {"Content-Type": "text/plain"})


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; requests on one connection are answered in order."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiting = False  # a request of this connection is with the thread pool

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.waiting:
            self._process()
        elif len(self.buffer) > 4 * (MAX_HEAD + MAX_BODY) and self.transport is not None:
            self.transport.close()  # pipelining far ahead of its answers
            self.transport = None

    def _process(self) -> None:
        while self.transport is not None and not self.waiting:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self._finish(_plain(400, "request head too large"), False)
                return
            # Only what routing needs, read with regular expressions over the bytes: a
            # header dictionary per request was a third of the server's time.
            head = bytes(self.buffer[:end])
            first = head.split(b"\r\n", 1)[0].split(b" ")
            found = _LENGTH.search(head)
            length = int(found.group(1)) if found else 0
            if len(first) != 3 or length > MAX_BODY or _CHUNKED.search(head):
                # No chunked bodies: an OCSP request has a length (and no request smuggling).
                self._finish(_plain(413 if length > MAX_BODY else 400, "bad request"), False)
                return
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            found = _CONNECTION.search(head)
            connection = found.group(1).strip().lower() if found else b""
            keep_alive = connection != b"close" and (
                first[2] == b"HTTP/1.1" or connection == b"keep-alive"
            )
            self._handle(first[0].decode("latin-1"), first[1].decode("latin-1"), body, keep_alive)

    def _handle(self, method: str, target: str, body: bytes, keep_alive: bool) -> None:
        path = target.split("?", 1)[0]
        if path == "/healthz":
            self._finish(_plain(200, "ok"), keep_alive)
            return
        pieces = path.split("/", 3)  # "", "ocsp", slug, rest
        if len(pieces) < 4 or pieces[1] != "ocsp" or not pieces[2]:
            self._finish(_plain(404, "not found"), keep_alive)
            return
        slug, rest = pieces[2], pieces[3]
        if method == "POST":
            der, kind = body, "POST"
        elif method in ("GET", "HEAD"):
            der, kind = ocsp_respond.request_from_path(rest) if rest else b"", "GET"
        else:
            self._finish(Answer(405, b"", {"Allow": "GET, POST"}), keep_alive)
            return
        answer = self.responder.fast(slug, der, kind, keep_alive)
        if isinstance(answer, bytes):
            if self.transport is not None:
                self.transport.write(answer)
            return
        if answer is not None:
            self._finish(answer, keep_alive, method == "HEAD")
            return
        if self.responder.pending >= self.responder.max_pending:
            self._finish(ocsp_respond.TRY_LATER, keep_alive)
            return
        self.responder.pending += 1
        self.waiting = True
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.responder.pool, self.responder.slow, slug, der, kind)
        future.add_done_callback(self._done(keep_alive, method == "HEAD"))

    def _done(self, keep_alive: bool, head_only: bool) -> Callable[[asyncio.Future[Answer]], None]:
        def done(future: asyncio.Future[Answer]) -> None:
            self.responder.pending -= 1
            self.waiting = False
            failed = future.cancelled() or future.exception() is not None
            answer = ocsp_respond.INTERNAL_ERROR if failed else future.result()
            self._finish(answer, keep_alive, head_only)
            self._process()

        return done

    def _finish(self, answer: Answer, keep_alive: bool, head_only: bool = False) -> None:
        if self.transport is None:
            return
        self.transport.write(render(answer, keep_alive, head_only))
        if not keep_alive:
            self.transport.close()
            self.transport = None


async def serve(host: str, port: int, *, ready: Callable[[], None] | None = None) -> None:
    """One worker: listen (SO_REUSEPORT, so workers share the port) until SIGTERM/SIGINT."""
    responder = Responder(
        cache_size=settings.ANCHORAGE_OCSP_CACHE_SIZE,
        threads=4,
        max_pending=settings.ANCHORAGE_OCSP_MAX_PENDING,
    )
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(responder.poller, responder.cache.load, responder.cache.size)
    server = await loop.create_server(
        lambda: HttpProtocol(responder), host, port, reuse_port=True, backlog=2048
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    poller = asyncio.create_task(responder.poll_forever())
    if ready is not None:
        ready()
    async with server:
        await stop.wait()
    poller.cancel()
    responder.pool.shutdown(wait=False, cancel_futures=True)
    responder.poller.shutdown(wait=False, cancel_futures=True)


def run_worker(host: str, port: int, ready: Callable[[], None] | None = None) -> None:
    try:
        # Optional, not a dependency: measured no faster here (bench/RESULTS.md, "OCSP").
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(host, port, ready=ready))
