"""A real webhook receiver on 127.0.0.1 that checks each request's HMAC signature."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from audit.webhooks import signature_valid


class Receiver:
    """Records every request; answers 401 to a bad signature, 500 while `fail_next` > 0."""

    def __init__(self) -> None:
        self.secret = ""
        self.fail_next = 0
        self.delay = 0.0  # seconds each request takes, to make relays overlap
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                valid = signature_valid(
                    receiver.secret,
                    self.headers.get("X-Anchorage-Timestamp", ""),
                    body,
                    self.headers.get("X-Anchorage-Signature", ""),
                )
                with receiver._lock:
                    if not valid:
                        status = 401
                    elif receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        status = 500
                    else:
                        status = 200
                    receiver.requests.append(
                        {
                            "status": status,
                            "signature_valid": valid,
                            "delivery": int(self.headers["X-Anchorage-Delivery"]),
                            "message": int(self.headers["X-Anchorage-Message"]),
                            "topic": self.headers["X-Anchorage-Topic"],
                            "body": json.loads(body),
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def accepted(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["status"] == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(timeout=10)
