"""The load generators: `connections` clients POST the lines of a file (one JSON body a line,
cycling) to 127.0.0.1, each request with its own Idempotency-Key, for a window of seconds,
and report the answers' statuses and latencies.

    load_wrk      `wrk` (Debian package wrk) with a Lua script
    load_python   an asyncio client in a process of its own: this file, run as
                  `python bench/_load.py _load '<window as JSON>'` (it prints its result)

Used by bench/issuance.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Window:
    """One window of load: what to POST where, how hard and how long."""

    port: int
    bodies: Path  # one request body a line
    token: str
    connections: int
    seconds: float
    expect: int  # the status a request should get
    path: str
    content_type: str = "application/json"
    authorization: str = ""  # the Authorization header; empty: "Token <token>"

    @property
    def auth_header(self) -> str:
        return self.authorization or f"Token {self.token}"


# (window, a scratch directory) -> the result: seconds, statuses, socket_errors, p50_ms,
# p99_ms, errors (the first few unexpected answers)
LoadGenerator = Callable[[Window, Path], dict[str, Any]]

WRK_SCRIPT = r"""
-- written by bench/_load.py: POST a CSR from the file, cycling, each with its own key
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
  i = (tid - 1) * 7919
  statuses = {}
  errors = {}
  headers = {
    ["Content-Type"] = "%(content_type)s",
    ["Authorization"] = "%(authorization)s",
    ["X-Forwarded-Proto"] = "https",
  }
end

function request()
  i = i + 1
  headers["Idempotency-Key"] = "%(run)s-" .. tid .. "-" .. i
  return wrk.format("POST", "%(path)s", headers, bodies[(i %% #bodies) + 1])
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= %(expect)d and #errors < 3 then
    errors[#errors + 1] = status .. " " .. string.sub(body or "", 1, 300)
  end
end

function done(summary, latency, requests)
  local parts = {}
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do total[k] = (total[k] or 0) + v end
    for _, e in ipairs(t:get("errors")) do
      io.write("BENCH_ERROR ", (string.gsub(e, "[\r\n]", " ")), "\n")
    end
  end
  for k, v in pairs(total) do parts[#parts + 1] = string.format('"%%d": %%d', k, v) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us": %%d, "statuses": {%%s}, "socket_errors": %%d, '
    .. '"p50_ms": %%.2f, "p99_ms": %%.2f}\n',
    summary.duration, table.concat(parts, ", "),
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def load_wrk(window: Window, workdir: Path) -> dict[str, Any]:
    script = workdir / "issue.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "bodies": window.bodies,
            "content_type": window.content_type,
            "authorization": window.auth_header,
            "run": uuid.uuid4().hex[:12],
            "path": window.path,
            "expect": window.expect,
        }
    )
    connections = window.connections
    threads = min(connections, max(1, os.cpu_count() or 1))
    result = subprocess.run(
        [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(window.seconds))}s",
            "--timeout", "30s", "-s", str(script), f"http://127.0.0.1:{window.port}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    found = re.search(r"^BENCH_RESULT (.*)$", result.stdout, re.M)
    if not found:
        raise RuntimeError(f"wrk failed:\n{result.stdout}\n{result.stderr}")
    out = json.loads(found.group(1))
    out["seconds"] = out.pop("duration_us") / 1e6
    out["errors"] = re.findall(r"^BENCH_ERROR (.*)$", result.stdout, re.M)
    return out


def load_python(window: Window, workdir: Path) -> dict[str, Any]:
    """The asyncio client, in a process of its own (it shares the cores with the server)."""
    argument = json.dumps({**dataclasses.asdict(window), "bodies": str(window.bodies)})
    result = subprocess.run(
        [sys.executable, __file__, "_load", argument],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{result.stderr}")
    return dict(json.loads(result.stdout))


async def _python_client(window: Window, bodies: list[bytes]) -> dict[str, Any]:
    port, path, expect = window.port, window.path, window.expect
    run = uuid.uuid4().hex[:12]
    stop = time.monotonic() + window.seconds
    statuses: dict[str, int] = {}
    errors: list[str] = []
    latencies: list[float] = []
    socket_errors = 0

    async def client(cid: int) -> None:
        nonlocal socket_errors
        i = cid * 7919
        reader = writer = None
        while time.monotonic() < stop:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                assert reader is not None
                i += 1
                body = bodies[i % len(bodies)]
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Content-Type: {window.content_type}\r\n"
                    f"Authorization: {window.auth_header}\r\n"
                    f"X-Forwarded-Proto: https\r\nIdempotency-Key: {run}-{cid}-{i}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                )
                started = time.monotonic()
                writer.write(head.encode() + body)
                status = int((await reader.readline()).split()[1])
                length, close = 0, False
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    elif name == "connection" and "close" in value.lower():
                        close = True
                payload = await reader.readexactly(length)
                if time.monotonic() > stop:
                    break
                latencies.append(time.monotonic() - started)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if status != expect and len(errors) < 3:
                    errors.append(f"{status} {payload[:300].decode(errors='replace')}")
                if close:
                    writer.close()
                    writer = None
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                socket_errors += 1
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(client(c) for c in range(window.connections)))
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else 0
        )

    return {
        "seconds": time.monotonic() - started,
        "statuses": statuses,
        "socket_errors": socket_errors,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "errors": errors,
    }


def _entry() -> None:
    if len(sys.argv) != 3 or sys.argv[1] != "_load":
        sys.exit(f"usage: {sys.argv[0]} _load '<window as JSON>' (run by load_python)")
    fields = json.loads(sys.argv[2])
    window = Window(**{**fields, "bodies": Path(fields["bodies"])})
    bodies = window.bodies.read_bytes().splitlines()
    print(json.dumps(asyncio.run(_python_client(window, bodies))))


if __name__ == "__main__":
    _entry()
