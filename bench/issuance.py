"""Certificates issued per second through the REST API (POST /api/v1/certificates, and
POST /api/v1/certificates/batch with many CSRs a request), served by gunicorn (config.wsgi)
on PostgreSQL the way production runs it, for a P-256 and an RSA-2048 issuing CA, beside
`openssl speed`'s signing rate measured in the same run.

More figures show where the time goes, each one layer further in:

    API          gunicorn + Django + DRF + token auth + issue() + JSON, over HTTP, all cores,
                 with the CPU each party spent (web workers, PostgreSQL, load generator)
    API batch    the same through POST /api/v1/certificates/batch, --batch-size CSRs a
                 request (default 50; issue_batch()): certificates/s, p50/p99 a request
    floor        the same POST refused at body validation right after token auth (400):
                 what the web stack costs before any issuance work
    view         the same POST through Django's test client, one thread (no HTTP server)
    service      pki.services.issuance.issue() in one process, one thread (no HTTP)
    builder      pki.crypto.certs.build() with the software signer (no database)
    openssl      `openssl speed -seconds 3 ecdsap256` / `rsa2048`, sign/s, one core

    .venv/bin/python bench/issuance.py [--quick] [--profile] [--sweep] [--client python]
                                       [--batch-size N]

--sweep first compares gunicorn set-ups (sync and gthread workers); --profile lists the
queries of one POST and where its CPU goes (cProfile in CPU time).

It uses its own database and data directory, creating and migrating them first, and writes
certificates into them; never point it at real data:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/anchorage_bench
    REDIS_URL=redis://127.0.0.1:6379/9     ANCHORAGE_DATA_DIR=/tmp/anchorage-bench

The load comes from `wrk` (Debian package wrk) with a Lua script that cycles through
pre-generated CSRs, each request with its own Idempotency-Key; without wrk (or with
`--client python`) from an asyncio client in a separate process. A batch request carries
--batch-size distinct CSRs (consecutive ones of the pre-generated list, cycling through it)
and its own Idempotency-Key, from which the endpoint derives the per-certificate keys.

On a shared machine other work (a test run) would halve the figures: each figure waits for
the machine to be quiet and is measured again (--attempts) when other work started
meanwhile; the output says how much other work ran during any figure it could not keep
clean. A benchmark, not a test: it reports figures and asserts no times.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BENCH_ENV = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/anchorage_bench",
    "REDIS_URL": "redis://127.0.0.1:6379/9",
    "ANCHORAGE_DATA_DIR": "/tmp/anchorage-bench",  # noqa: S108 (a scratch directory)
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
# label -> (KeyAlgorithm value, openssl speed argument, domain slug)
ALGORITHMS = {
    "P-256": ("ec-p256", "ecdsap256", "bench-p256"),
    "RSA-2048": ("rsa-2048", "rsa2048", "bench-rsa"),
}
PROFILE = "tls-server"
PROFILE_SPEC = {"dns_suffixes": ["bench.test"], "protocols": ["api"]}
TARGET = 1000  # certificates/s with a P-256 software key (issue 3)
PATH = "/api/v1/certificates"
BATCH_PATH = "/api/v1/certificates/batch"


def bench_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
    env.update(BENCH_ENV)
    env.update(extra)
    return env


# --- in a Django subprocess -------------------------------------------------------------------


def _django() -> None:
    os.environ.update(BENCH_ENV)
    for name in DROP_ENV:
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def setup_fixtures() -> dict[str, Any]:
    """Domains bench-p256 and bench-rsa (protocol api), each with a local root + issuing CA of
    its algorithm and a tls-server profile for *.bench.test; an operator with a new token."""
    _django()
    from django.contrib.auth.models import User
    from django.db import transaction

    from accounts.roles import Role, grant_role
    from accounts.services import create_token
    from pki.crypto.keys import KeyAlgorithm
    from pki.models import CertificateAuthority, Domain
    from pki.services.domains import create_domain
    from pki.services.hierarchy import create_local_pki
    from pki.services.profiles import save_profile

    user, _ = User.objects.get_or_create(username="bench-operator")
    for label, (algorithm, _, slug) in ALGORITHMS.items():
        with transaction.atomic():
            domain = Domain.objects.filter(slug=slug).first() or create_domain(
                slug, f"Bench {label}", protocols=["api"]
            )
            issuing = CertificateAuthority.objects.filter(
                domain=domain, parent__isnull=False, status=CertificateAuthority.Status.ACTIVE
            ).first()
            if issuing is None:
                _, issuing = create_local_pki(domain, KeyAlgorithm(algorithm))
            save_profile(domain, PROFILE, PROFILE_SPEC, issuing)
            grant_role(user, Role.OPERATOR, domain)
    _, key = create_token(user, f"bench {time.strftime('%Y-%m-%d %H:%M:%S')}")
    data_dir = Path(BENCH_ENV["ANCHORAGE_DATA_DIR"])
    return {
        "token": key,
        "secret_key": (data_dir / "secret_key").read_text().strip(),
        "kek": (data_dir / "kek").read_text().strip(),
    }


def measure_in_process(
    label: str, service_seconds: float, builder_seconds: float, csr_file: str, profile: bool
) -> dict[str, Any]:
    """The service path alone (issue(), one thread) and the bare builder, for one algorithm."""
    _django()
    import cProfile
    import io
    import pstats
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.db import connection

    from pki.crypto import certs
    from pki.crypto.backends.software import SoftwareSigner, generate_private_key
    from pki.crypto.csr import inspect
    from pki.crypto.keys import KeyAlgorithm
    from pki.models import Domain
    from pki.services.issuance import IssueRequest, issue

    algorithm, _, slug = ALGORITHMS[label]
    csrs = json.loads(Path(csr_file).read_text())
    domain = Domain.objects.get(slug=slug)
    user = User.objects.get(username="bench-operator")
    run = uuid.uuid4().hex[:8]
    counter = iter(range(10**9))

    def one() -> None:
        n = next(counter)
        issue(
            IssueRequest(
                domain=domain,
                profile=PROFILE,
                csr=csrs[n % len(csrs)],
                protocol="api",
                user=user,
                idempotency_key=f"svc-{run}-{n}",
            )
        )

    def rate(work: Any, seconds: float) -> float:
        done = 0
        started = time.monotonic()
        stop = started + seconds
        while time.monotonic() < stop:
            work()
            done += 1
        return done / (time.monotonic() - started)

    out: dict[str, Any] = {}
    rate(one, min(1.0, service_seconds / 3))  # warm-up: key unsealed, connection open
    out["service"] = rate(one, service_seconds)

    # The same path again, a few hundred times, counting queries and their wall time.
    queries = [0, 0.0]

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries[0] += 1
            queries[1] += time.perf_counter() - started

    n = max(50, int(out["service"] * 0.5))
    with connection.execute_wrapper(timed):
        started = time.perf_counter()
        for _ in range(n):
            one()
        elapsed = time.perf_counter() - started
    out["queries_per_cert"] = queries[0] / n
    out["db_ms_per_cert"] = queries[1] * 1000 / n
    out["ms_per_cert"] = elapsed * 1000 / n

    # The view in process (Django + DRF + token auth + issue() + JSON, no HTTP server).
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Token {os.environ['BENCH_TOKEN']}")

    def post() -> None:
        n = next(counter)
        body = json.dumps({"domain": slug, "profile": PROFILE, "csr": csrs[n % len(csrs)]})
        response = client.post(
            PATH, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"view-{run}-{n}"
        )
        if response.status_code != 201:
            raise RuntimeError(f"{response.status_code} {response.content[:300]!r}")

    view_error = None
    try:
        rate(post, 0.5)
        out["view"] = rate(post, service_seconds)
        sql: list[str] = []

        def logged(execute: Any, text: str, params: Any, many: bool, context: Any) -> Any:
            sql.append(text)
            return execute(text, params, many, context)

        with connection.execute_wrapper(logged):
            post()
        out["view_queries"] = len(sql)
        out["view_sql"] = [_sql_summary(q) for q in sql]
    except Exception as exc:  # the endpoint is someone else's work in progress
        view_error = f"{type(exc).__name__}: {exc}"[:300]
    out["view_error"] = view_error

    if profile:
        # CPU time, not wall time: the profile must not blame whatever ran when the process
        # was waiting for PostgreSQL or pre-empted by other work on the machine.
        n = 200
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(n):
            one()
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
        out["profile_tottime"] = _trim_pstats(text.getvalue())
        out["profile_n"] = n
        if view_error is None:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for _ in range(n):
                post()
            profiler.disable()
            out["profile_view"] = _breakdown(pstats.Stats(profiler))

    # The builder alone: the same template issue() builds, signed by a software key.
    signer = SoftwareSigner(generate_private_key(KeyAlgorithm(algorithm)))
    now = certs.now()
    ca_der = certs.build(
        certs.CertTemplate(
            subject=[("CN", "Bench CA")],
            public_key_der=_spki_of(signer),
            serial=certs.random_serial(),
            not_before=now,
            not_after=now + timedelta(days=365),
            is_ca=True,
            path_length=0,
            key_usage=["keyCertSign", "cRLSign", "digitalSignature"],
        ),
        signer,
        None,
    )
    csr = inspect(csrs[0])
    template = certs.CertTemplate(
        subject=csr.subject,
        public_key_der=csr.public_key_der,
        serial=certs.random_serial(),
        not_before=now,
        not_after=now + timedelta(days=90),
        key_usage=["digitalSignature"],
        ext_key_usage=["serverAuth"],
        dns_names=csr.dns_names,
        crl_urls=["http://localhost:8000/crl/bench.crl"],
        ocsp_urls=["http://localhost:8000/ocsp/bench/"],
        ca_issuers_urls=["http://localhost:8000/ca/bench.crt"],
    )
    rate(lambda: certs.build(template, signer, ca_der), 0.3)
    out["builder"] = rate(lambda: certs.build(template, signer, ca_der), builder_seconds)
    return out


# (label, file the function is in, function name): the steps of one POST, outermost first.
_STEPS = [
    ("the whole request (view dispatch)", "rest_framework/views.py", "dispatch"),
    ("  token authentication", "accounts/services.py", "user_for_token"),
    ("  body validation", "pki/api/common.py", "validated"),
    ("  domain lookup + certs.issue check (view)", "pki/api/common.py", "domain_for"),
    ("  issue()", "pki/services/issuance.py", "issue"),
    ("    profile lookup", "pki/services/issuance.py", "_profile_version"),
    ("    idempotency replay lookup", "pki/services/issuance.py", "_replay"),
    ("    idempotency claim (savepoint + insert)", "pki/services/issuance.py", "_claim"),
    ("    _issue(): sign, store, audit", "pki/services/issuance.py", "_issue"),
    ("      audit.record() (2 events)", "audit/services.py", "record"),
    ("      issuing chain (cas.issuing_chain)", "pki/services/cas.py", "issuing_chain"),
    ("  response serialization", "rest_framework/serializers.py", "data"),
    ("accounts.roles.has_perm (view + issue())", "accounts/roles.py", "has_perm"),
    ("CSR inspection (parse + verify signature)", "pki/crypto/csr.py", "inspect"),
    ("profile evaluation", "pki/services/profiles.py", "evaluate"),
    ("certificate build + sign (certs.build)", "pki/crypto/certs.py", "build"),
    ("certificate parse (certs.info)", "pki/crypto/certs.py", "info"),
    ("ORM: compiling SQL (SQL*Compiler.as_sql)", "django/db/models/sql/compiler.py", "as_sql"),
    ("psycopg: sending queries, reading rows", "psycopg/cursor.py", "execute"),
]
_SUMMED = {"ORM: compiling SQL (SQL*Compiler.as_sql)"}  # several functions of that name


def _breakdown(stats: Any) -> list[tuple[str, float, int]]:
    """(step, share of the whole request's CPU, calls) for each step of _STEPS."""
    found: dict[str, tuple[float, int]] = {}
    for (filename, _, function), (_, calls, _, cumulative, _) in stats.stats.items():
        for label, path, name in _STEPS:
            if function == name and filename.endswith(path):
                best = found.get(label, (0.0, 0))
                if label in _SUMMED:
                    found[label] = (best[0] + cumulative, best[1] + calls)
                elif cumulative > best[0]:
                    found[label] = (cumulative, calls)
    total = found.get(_STEPS[0][0], (0.0, 0))[0] or 1.0
    return [
        (label, found[label][0] / total, found[label][1])
        for label, _, _ in _STEPS
        if label in found
    ]


def _sql_summary(sql: str) -> str:
    """SELECT ... FROM "a" INNER JOIN "b" ... -> 'SELECT a, b'; INSERT INTO "a" -> 'INSERT a'."""
    verb = sql.split(None, 1)[0].upper()
    tables = re.findall(r'(?:FROM|JOIN|INTO|UPDATE)\s+"(\w+)"', sql)
    return f"{verb} {', '.join(dict.fromkeys(tables))}".strip()


def _spki_of(signer: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return signer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _trim_pstats(text: str) -> str:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(
        re.sub(r"/\S*/site-packages/", "", line.replace(str(ROOT) + "/", ""))
        for line in lines[start:]
        if line.strip()
    )


# --- CSRs -------------------------------------------------------------------------------------


def _csr_batch(args: tuple[str, int, int]) -> list[str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    run, start, count = args
    out = []
    for i in range(start, start + count):
        name = f"h{i}-{run}.bench.test"
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        out.append(csr.public_bytes(serialization.Encoding.PEM).decode())
    return out


def make_csrs(count: int) -> list[str]:
    run = uuid.uuid4().hex[:6]
    chunk = 250
    jobs = [(run, start, min(chunk, count - start)) for start in range(0, count, chunk)]
    with ProcessPoolExecutor() as pool:
        return [pem for batch in pool.map(_csr_batch, jobs) for pem in batch]


# --- openssl speed ----------------------------------------------------------------------------


def openssl_sign_rate(what: str, seconds: int) -> float | None:
    """sign/s from `openssl speed -seconds N <what>` (the third number of the result row)."""
    try:
        result = subprocess.run(
            ["openssl", "speed", "-seconds", str(seconds), what],
            capture_output=True,
            text=True,
            timeout=seconds * 4 + 30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    row = re.compile(r"^\s*(?:rsa \d+ bits|\d+ bits ecdsa)")
    for line in result.stdout.splitlines():
        if row.match(line):
            numbers = re.findall(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])", line.split("bits", 1)[1])
            # rows read: [curve name] sign-time verify-time sign/s verify/s
            if len(numbers) >= 2:
                return float(numbers[-2])
    return None


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


def quietly(what: str, work: Any, wait: float, attempts: int) -> tuple[Any, float]:
    """Run `work` on a quiet machine: wait for other work to stop, measure, and measure again
    (up to `attempts` times) when other work started meanwhile. Returns the result with the
    least other work, and that amount in cores."""
    best: tuple[Any, float] | None = None
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


def issue_headers(token: str, key: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Authorization": f"Token {token}",
        "Idempotency-Key": key,
    }


# --- load generators --------------------------------------------------------------------------

WRK_SCRIPT = r"""
-- written by bench/issuance.py: POST a CSR from the file, cycling, each with its own key
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
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Token %(token)s",
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


def load_wrk(
    port: int,
    bodies: Path,
    token: str,
    connections: int,
    seconds: float,
    workdir: Path,
    expect: int = 201,
    path: str = PATH,
) -> dict[str, Any]:
    script = workdir / "issue.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "bodies": bodies,
            "token": token,
            "run": uuid.uuid4().hex[:12],
            "path": path,
            "expect": expect,
        }
    )
    threads = min(connections, max(1, os.cpu_count() or 1))
    result = subprocess.run(
        [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            "--timeout", "30s", "-s", str(script), f"http://127.0.0.1:{port}",
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


def load_python(
    port: int,
    bodies: Path,
    token: str,
    connections: int,
    seconds: float,
    workdir: Path,
    expect: int = 201,
    path: str = PATH,
) -> dict[str, Any]:
    """The asyncio client, in a process of its own (it shares the cores with the server)."""
    result = subprocess.run(
        [
            PY,
            __file__,
            "_load",
            str(port),
            str(bodies),
            token,
            str(connections),
            str(seconds),
            str(expect),
            path,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{result.stderr}")
    return dict(json.loads(result.stdout))


async def _python_client(
    port: int,
    bodies: list[bytes],
    token: str,
    connections: int,
    seconds: float,
    expect: int,
    path: str = PATH,
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:12]
    stop = time.monotonic() + seconds
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
                    f"Content-Type: application/json\r\nAuthorization: Token {token}\r\n"
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
    await asyncio.gather(*(client(c) for c in range(connections)))
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


# --- the run ----------------------------------------------------------------------------------


def psql(sql: str) -> str:
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", sql],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def prepare() -> dict[str, str]:
    name = BENCH_ENV["DATABASE_URL"].rsplit("/", 1)[1]
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":  # noqa: S608
        psql(f'CREATE DATABASE "{name}"')
    # --skip-checks: the checks import every URLconf, which a migration does not need.
    migrate = [PY, "manage.py", "migrate", "--skip-checks", "--verbosity", "0"]
    subprocess.run(migrate, cwd=ROOT, env=bench_env(), check=True)
    return dict(json.loads(_child("_setup")))


def _child(*args: str, **env: str) -> str:
    result = subprocess.run(
        [PY, __file__, *args],
        cwd=ROOT,
        env=bench_env(**env),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


def api_rate(
    server: Server,
    load: Any,
    bodies: Path,
    token: str,
    connections: int,
    warmup: float,
    seconds: float,
    workdir: Path,
    expect: int = 201,
    path: str = PATH,
    per_request: int = 1,
) -> dict[str, Any]:
    """Answers with status `expect` per second over the window, after a warm-up, with the
    CPU each group of processes spent meanwhile. `rate` counts `per_request` certificates
    for each such answer (a batch of that many, all issued or none), `requests` the answers."""
    first = bodies.read_text().split("\n", 1)[0].encode()
    probe = issue_headers(token, f"probe-{uuid.uuid4().hex}")
    status, answer = server.request("POST", path, first, probe)
    if status != expect:
        return {"unavailable": f"{status} {answer[:200].decode(errors='replace')}"}
    load(server.port, bodies, token, connections, warmup, workdir, expect, path)
    watch = CpuWatch()
    out = dict(load(server.port, bodies, token, connections, seconds, workdir, expect, path))
    out["cpu"] = watch.usage(server.process.pid, ended="load")
    out["others"] = out["cpu"]["others"]
    out["requests"] = out["statuses"].get(str(expect), 0) / out["seconds"]
    out["rate"] = out["requests"] * per_request
    out["unexpected"] = sum(v for k, v in out["statuses"].items() if k != str(expect))
    return out


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short windows, fewer CSRs")
    parser.add_argument("--seconds", type=float, help="API window per algorithm (default 10)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--csrs", type=int, help="distinct CSRs to cycle through (default 4000)")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument(
        "--workers", type=int, help="gunicorn workers (default: one a core, best in --sweep)"
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--batch-size", type=int, default=50, help="CSRs a batch request (1 to 100, default 50)"
    )
    parser.add_argument("--sweep", action="store_true", help="compare gunicorn set-ups on P-256")
    parser.add_argument("--profile", action="store_true", help="cProfile the service path, P-256")
    parser.add_argument(
        "--attempts", type=int, default=3, help="measurements of a figure disturbed by other work"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=120,
        help="seconds to wait for other work on the machine to stop before each figure",
    )
    args = parser.parse_args()
    if not 1 <= args.batch_size <= 100:
        parser.error("--batch-size: 1 to 100 (the endpoint's limit)")
    cores = os.cpu_count() or 1
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    warmup = 1.0 if args.quick else 3.0
    service_seconds = 2.0 if args.quick else 5.0
    builder_seconds = 1.0 if args.quick else 2.0
    speed_seconds = 1 if args.quick else 3
    count = args.csrs or (1000 if args.quick else 4000)
    if count < args.batch_size:
        parser.error("--csrs: at least --batch-size, so that a batch's CSRs are distinct")
    workers = args.workers or cores
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    load = load_wrk if use_wrk else load_python
    client = (
        f"wrk -t{min(args.connections, cores)} -c{args.connections}"
        if use_wrk
        else f"asyncio client, {args.connections} connections"
    )
    begun = time.monotonic()

    secrets = prepare()
    token = secrets["token"]
    started = time.monotonic()
    csrs = make_csrs(count)
    print(f"{count} P-256 CSRs generated in {time.monotonic() - started:.1f} s", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="anchorage-bench-"))
    atexit.register(shutil.rmtree, workdir, True)
    csr_file = workdir / "csrs.json"
    csr_file.write_text(json.dumps(csrs))
    bodies: dict[str, Path] = {}
    for label, (_, _, slug) in ALGORITHMS.items():
        bodies[label] = workdir / f"bodies-{slug}.jsonl"
        bodies[label].write_text(
            "".join(
                json.dumps({"domain": slug, "profile": PROFILE, "csr": pem}) + "\n" for pem in csrs
            )
        )
    # Batch bodies: each holds batch_size consecutive CSRs of the list, distinct within a
    # batch; the requests cycle through the bodies as they do through the single CSRs.
    size = args.batch_size
    batches = [csrs[start : start + size] for start in range(0, count - size + 1, size)]
    batch_bodies: dict[str, Path] = {}
    for label, (_, _, slug) in ALGORITHMS.items():
        batch_bodies[label] = workdir / f"batches-{slug}.jsonl"
        batch_bodies[label].write_text(
            "".join(
                json.dumps({"domain": slug, "profile": PROFILE, "csrs": batch}) + "\n"
                for batch in batches
            )
        )

    busy = wait_quiet(args.wait_quiet)
    rows: dict[str, dict[str, Any]] = {label: {} for label in ALGORITHMS}
    quiet: dict[str, float] = {}  # figure -> cores of other work while it was measured

    def measure(what: str, work: Any) -> Any:
        result, quiet[what] = quietly(what, work, args.wait_quiet, args.attempts)
        return result

    for label, (_, speed, _) in ALGORITHMS.items():
        rows[label]["openssl"] = measure(
            f"openssl speed {speed}", lambda speed=speed: openssl_sign_rate(speed, speed_seconds)
        )
    for label in ALGORITHMS:
        profile = "1" if args.profile and label == "P-256" else "0"
        argv = ["_inprocess", label, str(service_seconds), str(builder_seconds), str(csr_file)]
        figures = measure(
            f"the {label} in-process figures",
            lambda argv=argv, profile=profile: _child(*argv, profile, BENCH_TOKEN=token),
        )
        rows[label].update(json.loads(figures))
    print(
        f"openssl speed, builder, service and view figures measured"
        f" ({time.monotonic() - begun:.0f} s)",
        flush=True,
    )

    if args.sweep:
        print(f"\ngunicorn set-ups, P-256, {client}, {warmup:.0f} s warm-up + {seconds:.0f} s:")
        setups = [("sync", cores, 1), ("sync", 2 * cores, 1), ("sync", 4 * cores, 1)]
        setups += [("gthread", cores, 4), ("gthread", 2 * cores, 2), ("gthread", 2 * cores, 4)]
        for worker_class, n, threads in setups:
            server = Server(secrets, worker_class, n, threads)
            try:
                got = measure(
                    f"the sweep ({server.describe})",
                    lambda server=server: api_rate(
                        server, load, bodies["P-256"], token, args.connections, warmup, seconds,
                        workdir,
                    ),
                )  # fmt: skip
            finally:
                server.stop()
            if "unavailable" in got:
                print(f"  {server.describe:<30} API unavailable: {got['unavailable']}")
                break
            print(
                f"  {server.describe:<30} {got['rate']:>6.0f} certs/s  p50 {got['p50_ms']:.0f} ms"
                f"  p99 {got['p99_ms']:.0f} ms  non-201 {got['unexpected']}"
                f"  other work {got['others']:.2f} cores",
                flush=True,
            )

    # The floor: the same endpoint, server and load, answered 400 by the body's validation
    # right after token authentication: what Django + DRF + gunicorn cost before issuance.
    floor_body = workdir / "floor.jsonl"
    floor_body.write_text(json.dumps({"domain": ALGORITHMS["P-256"][2]}) + "\n")
    server = Server(secrets, args.worker_class, workers, args.threads)
    try:
        floor = measure(
            "the floor",
            lambda: api_rate(
                server, load, floor_body, token, args.connections, 1.0, min(seconds, 5.0),
                workdir, expect=400,
            ),
        )  # fmt: skip
        for label in ALGORITHMS:
            rows[label]["api"] = measure(
                f"the {label} API window",
                lambda label=label: api_rate(
                    server, load, bodies[label], token, args.connections, warmup, seconds, workdir
                ),
            )
        for label in ALGORITHMS:
            rows[label]["batch"] = measure(
                f"the {label} API batch window",
                lambda label=label: api_rate(
                    server, load, batch_bodies[label], token, args.connections, warmup, seconds,
                    workdir, path=BATCH_PATH, per_request=size,
                ),
            )  # fmt: skip
    finally:
        server.stop()
    log = server.output()
    if "Traceback" in log or "ERROR" in log or "CRITICAL" in log:
        print(f"\ngunicorn said:\n{log[-2000:]}")

    print()
    print(f"machine: {cores} cores ({cpu_model()}), PostgreSQL {psql('SHOW server_version')}")
    print(
        f"API: gunicorn config.wsgi, {server.describe}, ANCHORAGE_ENV=production; load: {client},"
        f" {warmup:.0f} s warm-up + {seconds:.0f} s; {count} distinct P-256 CSRs, one"
        " Idempotency-Key each"
    )
    print(
        f"API batch: POST {BATCH_PATH}, {size} distinct CSRs a request (batch size {size}),"
        " one Idempotency-Key a request; same server, load and windows"
    )
    print("service, view and builder: one process, one thread; openssl speed: one core")
    print()
    head = ("algorithm", "API certs/s", "API batch certs/s", "service-only certs/s",
            "builder-only certs/s", "openssl speed sign/s")  # fmt: skip
    print(f"{head[0]:<10} {head[1]:>12} {head[2]:>18} {head[3]:>21} {head[4]:>21} {head[5]:>21}")
    for label, row in rows.items():
        print(
            f"{label:<10} {fmt(row['api'].get('rate')):>12} {fmt(row['batch'].get('rate')):>18}"
            f" {fmt(row['service']):>21} {fmt(row['builder']):>21} {fmt(row['openssl']):>21}"
        )
    print()
    for label, row in rows.items():
        for name, api, unit in (
            ("API", row["api"], "a request"),
            ("API batch", row["batch"], f"a request of {size} certificates"),
        ):
            if "unavailable" in api:
                print(f"{label}: {name} unavailable: {api['unavailable']}")
                continue
            print(
                f"{label}: {name} p50 {api['p50_ms']:.1f} ms, p99 {api['p99_ms']:.1f} ms {unit}"
                f" at {args.connections} connections ({api['requests']:,.1f} requests/s);"
                f" non-201 {api['unexpected']}, socket errors {api['socket_errors']};"
                f" other work {api['others']:.2f} cores"
            )
            for error in api["errors"]:
                print(f"    {error}")
            cpu = api["cpu"]
            per = {k: v * 1000 / api["rate"] for k, v in cpu.items()} if api["rate"] else {}
            print(
                f"{label}: {name} CPU during the window, cores (ms a certificate): "
                + ", ".join(f"{k} {v:.2f} ({per.get(k, 0):.2f})" for k, v in cpu.items())
            )
        if row.get("view_error"):
            print(f"{label}: view in process failed: {row['view_error']}")
        else:
            print(
                f"{label}: view in process (Django test client, no HTTP server)"
                f" {row['view']:,.0f} requests/s, {row['view_queries']} queries a request"
            )
        print(
            f"{label}: service path {row['ms_per_cert']:.2f} ms a certificate, of which"
            f" {row['db_ms_per_cert']:.2f} ms in {row['queries_per_cert']:.1f} queries"
        )
    if "unavailable" not in floor:
        print(
            f"floor: the same POST refused at validation (400, after token authentication)"
            f" {floor['rate']:,.0f} requests/s, p50 {floor['p50_ms']:.1f} ms; CPU "
            + ", ".join(
                f"{k} {v:.2f} ({v * 1000 / floor['rate']:.1f})"
                for k, v in floor["cpu"].items()
                if floor["rate"]
            )
        )
    noisy = {k: v for k, v in quiet.items() if v >= QUIET}
    print(
        f"other work on the machine: {busy:.2f} cores at the start; "
        + (
            f"under {QUIET} cores during every figure"
            if not noisy
            else "busy during " + ", ".join(f"{k} ({v:.2f} cores)" for k, v in noisy.items())
        )
    )
    p256 = rows["P-256"]["api"].get("rate")
    p256_batch = rows["P-256"]["batch"].get("rate")
    if p256 is not None or p256_batch is not None:
        reached = [
            f"{name} at {rate / TARGET:.0%}"
            for name, rate in (("API", p256), (f"API batch of {size}", p256_batch))
            if rate is not None
        ]
        print(f"\ntarget {TARGET:,} certificates/s (P-256, software key): " + ", ".join(reached))
    if args.profile:
        row = rows["P-256"]
        if row.get("view_sql"):
            print("\nqueries of one POST /api/v1/certificates (P-256):")
            for i, q in enumerate(row["view_sql"], 1):
                print(f"  {i:>2}. {q}")
        if row.get("profile_view"):
            print(
                f"\nwhere one POST's CPU goes (P-256, cProfile CPU time, {row['profile_n']} posts):"
            )
            for label, share, calls in row["profile_view"]:
                print(f"  {label:<52} {share:>6.1%}  {calls / row['profile_n']:>4.1f} calls")
        print(f"\nservice path, P-256, cProfile (CPU time) over {row['profile_n']} issuances:")
        print(row["profile_tottime"])
    print(f"\ntotal {time.monotonic() - begun:.0f} s")


def _entry() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_setup":
        print(json.dumps(setup_fixtures()))
    elif len(sys.argv) > 1 and sys.argv[1] == "_inprocess":
        label, service_s, builder_s, csr_file, profile = sys.argv[2:7]
        result = measure_in_process(
            label, float(service_s), float(builder_s), csr_file, profile == "1"
        )
        print(json.dumps(result))
    elif len(sys.argv) > 1 and sys.argv[1] == "_load":
        port, bodies, token, connections, seconds, expect, path = sys.argv[2:9]
        lines = Path(bodies).read_bytes().splitlines()
        client = _python_client(
            int(port), lines, token, int(connections), float(seconds), int(expect), path
        )
        print(json.dumps(asyncio.run(client)))
    else:
        main()


if __name__ == "__main__":
    _entry()
