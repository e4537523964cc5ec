"""The README's run command, for real: `bin/run` migrates, sets up the demo, serves /healthz
with web + worker + beat + the OCSP responder on the embedded default, and stops all four on
SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.net import free_port

ROOT = Path(__file__).resolve().parent.parent


def healthz(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return json.loads(r.read())
    except OSError:
        return None


def children_of(pid: int) -> set[int]:
    """Every descendant process of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """The pids still running (a zombie waiting for its parent counts as gone)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


@pytest.mark.worker
def test_run_command_serves_healthz_and_stops_cleanly(tmp_path: Path) -> None:
    port, ocsp_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    # The embedded default: SQLite and the filesystem broker, in a data dir of its own.
    env |= {
        "ANCHORAGE_DATA_DIR": str(tmp_path / "var"),
        "PORT": str(port),
        "OCSP_PORT": str(ocsp_port),
    }
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        ["bin/run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 240
        answer = None
        while time.monotonic() < deadline and proc.poll() is None and answer is None:
            answer = healthz(port)
            time.sleep(1)
        output = (tmp_path / "run.log").read_text()
        assert answer == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}, output
        assert "demo-" in output and "anc_" in output  # the demo logins were printed
        running = {Path(f"/proc/{p}/cmdline").read_bytes() for p in children_of(proc.pid)}
        for program in (b"gunicorn", b"worker", b"beat", b"ocsp_responder"):
            assert any(program in cmd for cmd in running), (program, output)
        ocsp_health = f"http://127.0.0.1:{ocsp_port}/healthz"
        with urllib.request.urlopen(ocsp_health, timeout=5) as r:
            assert r.read() == b"ok", output

        descendants = children_of(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 15
        while alive(descendants) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(descendants), [
            Path(f"/proc/{p}/cmdline").read_bytes() for p in alive(descendants)
        ]
        assert healthz(port) is None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
