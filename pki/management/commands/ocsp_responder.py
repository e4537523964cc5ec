"""`manage.py ocsp_responder --bind 127.0.0.1:8001 --workers 2`: the lean OCSP responder
(pki.ocsp.server), one process per worker sharing the port (SO_REUSEPORT). The parent only
watches: SIGTERM/SIGINT stop the workers; a worker that dies stops the rest and the parent
exits non-zero, so a supervisor (bin/run, systemd) sees it."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from pki.ocsp.server import run_worker


class Command(BaseCommand):
    help = "Serve OCSP (/ocsp/<ca>/) from pre-signed responses, apart from the web workers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8001", help="host:port")
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)

    def handle(self, *args: Any, **options: Any) -> None:
        host, _, port_text = options["bind"].rpartition(":")
        if not host or not port_text.isdigit():
            raise CommandError("--bind takes host:port")
        host, port = host.strip("[]"), int(port_text)
        workers = max(1, options["workers"])
        connections.close_all()  # each worker opens its own
        say = self.stdout.write
        if workers == 1:
            run_worker(host, port, lambda: say(f"OCSP responder on {host}:{port}"))
            return
        children = [self._fork(host, port) for _ in range(workers)]
        say(f"OCSP responder on {host}:{port}, {workers} workers")
        sys.exit(self._watch(children))

    @staticmethod
    def _fork(host: str, port: int) -> int:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                run_worker(host, port)
            except BaseException as exc:
                print(f"OCSP worker failed: {exc!r}", file=sys.stderr, flush=True)
                code = 1
            os._exit(code)
        return pid

    @staticmethod
    def _watch(children: list[int]) -> int:
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        alive, code = set(children), 0
        while alive and not stopping:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.2)
                continue
            alive.discard(pid)
            code = 1  # a worker ended on its own: stop the others
            break
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while alive and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.1)
            else:
                alive.discard(pid)
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return code
