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

Beside it: _server.py (the bench environment, gunicorn, the quiet machine), _load.py (wrk and
the asyncio client) and _inprocess.py (the view, service and builder figures, measured in a
Django process of their own).
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from _issuance_report import BATCH_PATH, Setting, report
from _load import LoadGenerator, Window, load_python, load_wrk
from _server import (
    BENCH_ENV,
    PY,
    ROOT,
    CpuWatch,
    Server,
    bench_env,
    django_setup,
    migrate,
    quietly,
    wait_quiet,
)

# label -> (KeyAlgorithm value, openssl speed argument, domain slug)
ALGORITHMS = {
    "P-256": ("ec-p256", "ecdsap256", "bench-p256"),
    "RSA-2048": ("rsa-2048", "rsa2048", "bench-rsa"),
}
PROFILE = "tls-server"
PROFILE_SPEC = {"dns_suffixes": ["bench.test"], "protocols": ["api"]}
PATH = "/api/v1/certificates"
INPROCESS = Path(__file__).with_name("_inprocess.py")  # the service, view and builder figures


# --- in a Django subprocess -------------------------------------------------------------------


def setup_fixtures() -> dict[str, Any]:
    """Domains bench-p256 and bench-rsa (protocol api), each with a local root + issuing CA of
    its algorithm and a tls-server profile for *.bench.test; an operator with a new token."""
    django_setup()
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


# --- the run ----------------------------------------------------------------------------------


def issue_headers(token: str, key: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Authorization": f"Token {token}",
        "Idempotency-Key": key,
    }


def prepare() -> dict[str, str]:
    """The bench database migrated, and the fixtures in it (setup_fixtures)."""
    migrate()
    return dict(json.loads(_child(Path(__file__), "_setup")))


def _child(script: Path, *args: str, **env: str) -> str:
    """The last line `python SCRIPT ARGS...` prints, run in the bench environment."""
    result = subprocess.run(
        [PY, str(script), *args],
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
    load: LoadGenerator,
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
    window = Window(server.port, bodies, token, connections, warmup, expect, path)
    load(window, workdir)
    watch = CpuWatch()
    out = dict(load(dataclasses.replace(window, seconds=seconds), workdir))
    out["cpu"] = watch.usage(server.process.pid, ended="load")
    out["others"] = out["cpu"]["others"]
    out["requests"] = out["statuses"].get(str(expect), 0) / out["seconds"]
    out["rate"] = out["requests"] * per_request
    out["unexpected"] = sum(v for k, v in out["statuses"].items() if k != str(expect))
    return out


def write_bodies(path: Path, slug: str, field: str, items: list[Any]) -> Path:
    """One request body a line: the domain, the profile and `field` set to each item."""
    path.write_text(
        "".join(
            json.dumps({"domain": slug, "profile": PROFILE, field: item}) + "\n" for item in items
        )
    )
    return path


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
    bodies = {
        label: write_bodies(workdir / f"bodies-{slug}.jsonl", slug, "csr", csrs)
        for label, (_, _, slug) in ALGORITHMS.items()
    }
    # Batch bodies: each holds batch_size consecutive CSRs of the list, distinct within a
    # batch; the requests cycle through the bodies as they do through the single CSRs.
    size = args.batch_size
    batches = [csrs[start : start + size] for start in range(0, count - size + 1, size)]
    batch_bodies = {
        label: write_bodies(workdir / f"batches-{slug}.jsonl", slug, "csrs", batches)
        for label, (_, _, slug) in ALGORITHMS.items()
    }

    busy = wait_quiet(args.wait_quiet)
    rows: dict[str, dict[str, Any]] = {label: {} for label in ALGORITHMS}
    quiet: dict[str, float] = {}  # figure -> cores of other work while it was measured

    def measure(what: str, work: Any) -> Any:
        result, quiet[what] = quietly(what, work, args.wait_quiet, args.attempts)
        return result

    def api_window(
        server: Server, body: Path, warm: float = warmup, span: float = seconds, **kw: Any
    ) -> dict[str, Any]:
        return api_rate(server, load, body, token, args.connections, warm, span, workdir, **kw)

    for label, (_, speed, _) in ALGORITHMS.items():
        rows[label]["openssl"] = measure(
            f"openssl speed {speed}", lambda speed=speed: openssl_sign_rate(speed, speed_seconds)
        )
    for label in ALGORITHMS:
        profile = "1" if args.profile and label == "P-256" else "0"
        argv = ["_inprocess", label, str(service_seconds), str(builder_seconds), str(csr_file)]
        figures = measure(
            f"the {label} in-process figures",
            lambda argv=argv, profile=profile: _child(INPROCESS, *argv, profile, BENCH_TOKEN=token),
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
                    lambda server=server: api_window(server, bodies["P-256"]),
                )
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
            "the floor", lambda: api_window(server, floor_body, 1.0, min(seconds, 5.0), expect=400)
        )
        for label in ALGORITHMS:
            rows[label]["api"] = measure(
                f"the {label} API window", lambda label=label: api_window(server, bodies[label])
            )
        for label in ALGORITHMS:
            rows[label]["batch"] = measure(
                f"the {label} API batch window",
                lambda label=label: api_window(
                    server, batch_bodies[label], path=BATCH_PATH, per_request=size
                ),
            )
    finally:
        server.stop()
    log = server.output()
    if "Traceback" in log or "ERROR" in log or "CRITICAL" in log:
        print(f"\ngunicorn said:\n{log[-2000:]}")

    report(
        rows,
        floor,
        quiet,
        Setting(cores, busy, server.describe, client, warmup, seconds, count, size),
        connections=args.connections,
        profile=args.profile,
    )
    print(f"\ntotal {time.monotonic() - begun:.0f} s")


def _entry() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_setup":
        print(json.dumps(setup_fixtures()))
    else:
        main()


if __name__ == "__main__":
    _entry()
