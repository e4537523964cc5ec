"""OCSP responses per second on both cores: the lean responder (manage.py ocsp_responder,
pre-signed responses from its cache), Django's view under gunicorn (the simple deployment),
and `openssl ocsp` as a responder (-index, signing every answer) on the same certificates.

    .venv/bin/python bench/ocsp.py [--certificates 10000] [--seconds 10] [--connections 64]

Each request is a real OCSP request (SHA-1 CertID, no nonce, as browsers and TLS stacks
send them) for one of --certificates certificates issued through issue_batch(), cycling
through them in a random order; wrk (Debian package wrk) POSTs them with a Lua script. The
certificates, their responses and openssl's index.txt are made once and kept in the bench
database (`anchorage_bench_ocsp`) and directory (/tmp/anchorage-bench-ocsp).

Each figure waits for a quiet machine and is measured again when other work ran meanwhile
(bench/_server.py). A benchmark, not a test: it asserts no times.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _server  # bench/ (the script's directory) is on sys.path

_server.BENCH_ENV["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/anchorage_bench_ocsp"
_server.BENCH_ENV["ANCHORAGE_DATA_DIR"] = "/tmp/anchorage-bench-ocsp"  # noqa: S108
WORK = Path(_server.BENCH_ENV["ANCHORAGE_DATA_DIR"]) / "ocsp"  # then one folder per count

WRK_SCRIPT = r"""
-- written by bench/ocsp.py: POST one of the DER requests (hex, one a line), cycling
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  bodies = {}
  for line in io.lines("%(bodies)s") do
    bodies[#bodies + 1] = (line:gsub("..", function(h) return string.char(tonumber(h, 16)) end))
  end
  i = (tid - 1) * 7919
  statuses = {}
  headers = {["Content-Type"] = "application/ocsp-request", ["X-Forwarded-Proto"] = "https",
             ["Host"] = "127.0.0.1"%(close)s}
end
function request()
  i = i + 1
  return wrk.format("POST", "%(path)s", headers, bodies[(i %% #bodies) + 1])
end
function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total, parts = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do parts[#parts + 1] = string.format('"%%d": %%d', k, v) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us": %%d, "statuses": {%%s}, "socket_errors": %%d, '
    .. '"p50_ms": %%.2f, "p99_ms": %%.2f}\n',
    summary.duration, table.concat(parts, ", "), e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def prepare(count: int) -> dict[str, Any]:
    """The CA, `count` certificates with their responses, and the files the load and openssl
    need; made once, reused by later runs."""
    work = WORK / str(count)
    marker = work / "ready.json"
    if marker.exists():
        return dict(json.loads(marker.read_text()))
    work.mkdir(parents=True, exist_ok=True)
    import _ocsp_setup

    found = _ocsp_setup.make(count, work)
    marker.write_text(json.dumps(found))
    return found


def wrk(
    port: int, path: str, bodies: Path, seconds: int, connections: int, close: bool
) -> dict[str, Any]:
    script = Path(tempfile.mkdtemp()) / "ocsp.lua"
    extra = ', ["Connection"] = "close"' if close else ""
    script.write_text(WRK_SCRIPT % {"bodies": bodies, "path": path, "close": extra})
    threads = min(connections, os.cpu_count() or 1)
    done = subprocess.run(
        [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
            "-s", str(script), f"http://127.0.0.1:{port}",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = re.search(r"^BENCH_RESULT (.*)$", done.stdout, re.M)
    if not found:
        raise RuntimeError(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    out = dict(json.loads(found.group(1)))
    out["seconds"] = out.pop("duration_us") / 1e6
    ok = out["statuses"].get("200", 0)
    out["rate"] = ok / out["seconds"]
    out["other"] = sum(out["statuses"].values()) - ok
    return out


def listening(port: int) -> bool:
    """Whether something listens on `port`, without connecting: a connection that sends
    nothing leaves an `openssl ocsp -multi` child spinning (OpenSSL 3.0)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in rows.readlines()[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def wait_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        if listening(port):
            time.sleep(0.5)  # every worker
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on {port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server and its children: SIGTERM to its process group when it leads one
    (`openssl ocsp -multi` children outlive their parent otherwise, and spin)."""

    def signal_all(sig: int) -> None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:  # not a group leader (gunicorn) or gone already
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)

    signal_all(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    if process.poll() is None:
        signal_all(signal.SIGKILL)
    process.wait()


def measure(
    what: str,
    server: Callable[[], tuple[subprocess.Popen[bytes], int]],
    path: str,
    args: argparse.Namespace,
    *,
    close: bool = False,
    warm_up: bool = True,
) -> dict[str, Any]:
    """wrk against a server `server()` starts (its CPU is "web"; wrk's, ended, counts to
    "bench"), started afresh for each attempt."""
    bodies = WORK / str(args.certificates) / "requests.hex"

    def run() -> dict[str, Any]:
        process, port = server()
        try:
            if warm_up:  # caches, connections
                wrk(port, path, bodies, 2, args.connections, close)
            watch = _server.CpuWatch()
            out = wrk(port, path, bodies, args.seconds, args.connections, close)
            out["cpu"] = watch.usage(web_pid=process.pid)
            return out
        finally:
            stop(process)

    result, others = _server.quietly(what, run, wait=60, attempts=args.attempts)
    result["others"] = others
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--certificates", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--skip-gunicorn", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    _server.migrate()
    found = prepare(args.certificates)
    path = f"/ocsp/{found['slug']}/"
    work = WORK / str(args.certificates)
    files = {k: str(work / v) for k, v in found["files"].items()}
    rows: list[tuple[str, dict[str, Any]]] = []

    def lean() -> tuple[subprocess.Popen[bytes], int]:
        port = _server.free_port()
        command = [_server.PY, "manage.py", "ocsp_responder", "--bind", f"127.0.0.1:{port}"]
        process = subprocess.Popen(
            [*command, "--workers", "2"], cwd=_server.ROOT, env=_server.bench_env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_port(port, process, "ocsp_responder")
        return process, port

    def gunicorn() -> tuple[subprocess.Popen[bytes], int]:
        secret = {"secret_key": secrets.token_urlsafe(40), "kek": found["kek"]}
        server = _server.Server(secret, "sync", 2, 1)
        return server.process, server.port

    def openssl() -> tuple[subprocess.Popen[bytes], int]:
        for attempt in range(3):  # another process may take the free port first
            port = _server.free_port()
            process = subprocess.Popen(
                [
                    "openssl", "ocsp", "-index", files["index"], "-port", str(port),
                    "-rsigner", files["responder"], "-rkey", files["responder_key"],
                    "-CA", files["issuer"], "-multi", "2", "-nmin", "60",
                ],
                # It logs every request; with -multi it makes its own process group (and
                # exits 1 if it cannot: no start_new_session here).
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                wait_port(port, process, "openssl ocsp")
                return process, port
            except RuntimeError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    rows.append(("lean responder, 2 workers", measure("the lean responder", lean, path, args)))
    if not args.skip_gunicorn:
        rows.append(("Django view, gunicorn 2 sync", measure("gunicorn", gunicorn, path, args)))
    # openssl's -multi children spin on a connection cut mid-request (as a wrk run ends
    # them): no warm-up, and a fresh responder for each attempt.
    result = measure("openssl ocsp", openssl, path, args, close=True, warm_up=False)
    rows.append(("openssl ocsp -multi 2", result))
    report(rows, args, found, time.monotonic() - started)


def report(
    rows: list[tuple[str, dict[str, Any]]],
    args: argparse.Namespace,
    found: dict[str, Any],
    took: float,
) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    print(f"\n.venv/bin/python bench/ocsp.py   # {stamp}, {took:.0f} s, {_server.cpu_model()}")
    print(
        f"{args.certificates:,} certificates ({found['algorithm']} CA), SHA-1 CertIDs without"
        f" nonce, {args.connections} connections, {args.seconds} s a figure\n"
    )
    head = f"{'responder':<30} {'responses/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>8}"
    print(head + f" {'CPU server':>10} {'CPU wrk':>8} {'others':>7}")
    for name, r in rows:
        cpu = r["cpu"]
        print(
            f"{name:<30} {r['rate']:>12,.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['other'] + r['socket_errors']:>8} {cpu['web'] + cpu['postgres']:>10.2f} "
            f"{cpu['bench']:>8.2f} {r['others']:>7.2f}"
        )
    speed = subprocess.run(
        ["openssl", "speed", "-seconds", "1", "ecdsap256"], capture_output=True, text=True
    ).stdout.strip()
    sign = speed.splitlines()[-1].split()[-2] if speed else "?"
    print(f"machine: openssl speed ecdsap256 {sign} sign/s on one core (its speed varies)")
    lean = rows[0][1]["rate"]
    openssl = rows[-1][1]["rate"]
    print(
        f"\nlean responder: {lean / max(openssl, 1):.1f}x openssl ocsp; target 10,000/s at "
        f"{lean / 100:.0f}%"
    )


if __name__ == "__main__":
    main()
