"""The harness around a benchmark that loads an HTTP server: the environment it runs in (its
own database, data directory and settings), gunicorn config.wsgi as production runs it, and
a quiet machine (where the CPU went, waiting for other work to stop, measuring again).

Used by bench/issuance.py; a library, not a script.
"""

from __future__ import annotations

import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# --- the environment ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
# ANCHORAGE_BENCH_DATABASE / _DATA_DIR: another bench database and directory (a branch whose
# migrations main's bench database should not get); children inherit them.
_BENCH_DB = os.environ.get("ANCHORAGE_BENCH_DATABASE", "anchorage_bench")
BENCH_ENV = {
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{_BENCH_DB}",
    "REDIS_URL": "redis://127.0.0.1:6379/9",
    "ANCHORAGE_DATA_DIR": os.environ.get(
        "ANCHORAGE_BENCH_DATA_DIR",
        "/tmp/anchorage-bench",  # noqa: S108 (a scratch directory)
    ),
    "DEBUG": "0",
    "ANCHORAGE_LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}
# Variables of the calling shell that would change what is measured (or which keys open).
DROP_ENV = (
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "ANCHORAGE_ENV",
    "ANCHORAGE_KEK",
    "ANCHORAGE_KEY_BACKENDS",
    "ANCHORAGE_LOCAL_PKI",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_CONN_MAX_AGE",
    "PYTHONPATH",
)


def bench_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
    env.update(BENCH_ENV)
    env.update(extra)
    return env


def django_setup() -> None:
    """Django in this process, on the bench database and data directory."""
    os.environ.update(BENCH_ENV)
    for name in DROP_ENV:
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def psql(sql: str) -> str:
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", sql],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def migrate() -> None:
    """The bench database, created if missing and migrated."""
    name = BENCH_ENV["DATABASE_URL"].rsplit("/", 1)[1]
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":  # noqa: S608
        psql(f'CREATE DATABASE "{name}"')
    # --skip-checks: the checks import every URLconf, which a migration does not need.
    command = [PY, "manage.py", "migrate", "--skip-checks", "--verbosity", "0"]
    subprocess.run(command, cwd=ROOT, env=bench_env(), check=True)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


# --- other work on the machine -----------------------------------------------------------------


def _cpu_snapshot() -> tuple[int, dict[int, tuple[int, int, str]]]:
    """Busy jiffies of the whole machine, and per process: (ppid, utime + stime, title)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    busy = sum(int(v) for i, v in enumerate(fields[:8]) if i not in (3, 4))  # less idle, iowait
    procs: dict[int, tuple[int, int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
            name = raw[raw.index("(") + 1 : raw.rindex(")")]
            if name.startswith("postgres"):  # a backend's title names its database
                name = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
        except (OSError, ValueError):
            continue
        rest = raw[raw.rindex(")") + 2 :].split()
        procs[int(entry.name)] = (int(rest[1]), int(rest[11]) + int(rest[12]), name)
    return busy, procs


def _is_load_generator(pid: int) -> bool:
    """wrk, or the asyncio client (bench/_load.py, run with the argument `_load`)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return Path(argv[0].decode(errors="replace")).name == "wrk" or b"_load" in argv


class CpuWatch:
    """Where the machine's CPU went between two moments, in cores (0.5 = half a core): the web
    server's processes, PostgreSQL (the backends of the bench database and the shared
    background processes), the load generator, the rest of this benchmark, and other work
    (another engineer's test run, its own database backends, processes that came and went)."""

    def __init__(self) -> None:
        self.hz = os.sysconf("SC_CLK_TCK")
        self.started = time.monotonic()
        self.busy, self.procs = _cpu_snapshot()
        self.children = self._children()

    @staticmethod
    def _children() -> float:
        import resource

        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def usage(self, web_pid: int | None = None, ended: str = "bench") -> dict[str, float]:
        """Cores per group since the start; children that ended meanwhile count to `ended`."""
        busy, procs = _cpu_snapshot()
        elapsed = time.monotonic() - self.started
        me = os.getpid()
        database = BENCH_ENV["DATABASE_URL"].rsplit("/", 1)[1]
        groups = dict.fromkeys(("web", "postgres", "load", "bench", "redis"), 0.0)

        def group(pid: int) -> str | None:
            title = procs[pid][2]
            if title.startswith("postgres"):
                backend = re.match(r"postgres: \S+ (\S+) \S+\(\d+\)", title)
                return "postgres" if backend is None or backend.group(1) == database else None
            if title.startswith("redis-server"):
                return "redis"
            node, depth = pid, 0
            while node > 1 and depth < 50 and node in procs:
                if node == web_pid:
                    return "web"
                if node == me:
                    return "load" if pid != me and _is_load_generator(pid) else "bench"
                node, depth = procs[node][0], depth + 1
            return None

        for pid, (_, spent, _) in procs.items():
            name = group(pid)
            if name is not None:
                groups[name] += (spent - self.procs.get(pid, (0, 0, ""))[1]) / self.hz
        groups[ended] += self._children() - self.children
        total = (busy - self.busy) / self.hz
        groups["others"] = max(0.0, total - sum(groups.values()))
        return {k: v / elapsed for k, v in groups.items()}

    def others(self) -> float:
        return self.usage()["others"]


QUIET = 0.2  # cores of other work below which a figure counts as measured on a quiet machine


def wait_quiet(limit: float, threshold: float = QUIET) -> float:
    """Wait (up to `limit` seconds) until other work uses under `threshold` of a core."""
    deadline = time.monotonic() + limit
    said = False
    while True:
        watch = CpuWatch()
        time.sleep(1.0)
        load = watch.others()
        if load < threshold or time.monotonic() > deadline:
            return load
        if not said:
            print(f"  the machine is busy with other work ({load:.1f} cores); waiting", flush=True)
            said = True
        time.sleep(2.0)


def quietly(what: str, work: Callable[[], T], wait: float, attempts: int) -> tuple[T, float]:
    """Run `work` on a quiet machine: wait for other work to stop, measure, and measure again
    (up to `attempts` times) when other work started meanwhile. Returns the result with the
    least other work, and that amount in cores."""
    best: tuple[T, float] | None = None
    for attempt in range(1, attempts + 1):
        wait_quiet(wait)
        watch = CpuWatch()
        result = work()
        others = watch.others()
        if best is None or others < best[1]:
            best = (result, others)
        if others < QUIET:
            break
        again = "; measuring again" if attempt < attempts else ""
        print(f"  other work took {others:.2f} cores during {what}{again}", flush=True)
    assert best is not None
    return best


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """gunicorn config.wsgi with the production settings (ANCHORAGE_ENV=production: secrets
    from the environment, DEBUG off, HTTPS as nginx reports it in X-Forwarded-Proto)."""

    def __init__(
        self, secrets: dict[str, str], worker_class: str, workers: int, threads: int
    ) -> None:
        self.port = free_port()
        self.worker_class, self.workers, self.threads = worker_class, workers, threads
        command = [
            PY, "-m", "gunicorn", "config.wsgi",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers),
            "--worker-class", worker_class,
            "--log-level", "warning",
            "--forwarded-allow-ips", "127.0.0.1",
            "--graceful-timeout", "5",
        ]  # fmt: skip
        if worker_class == "gthread":
            command += ["--threads", str(threads)]
        env = bench_env(
            ANCHORAGE_ENV="production",
            SECRET_KEY=secrets["secret_key"],
            ANCHORAGE_KEK=secrets["kek"],
            ALLOWED_HOSTS="127.0.0.1",
            ANCHORAGE_LOCAL_PKI="0",
        )
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    @property
    def describe(self) -> str:
        if self.worker_class == "gthread":
            return f"{self.workers} gthread workers x {self.threads} threads"
        return f"{self.workers} {self.worker_class} workers"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.output()}")
            try:
                status, _ = self.request("GET", "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz:\n{self.output()}")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body, {"X-Forwarded-Proto": "https", **(headers or {})})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
