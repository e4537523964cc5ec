"""EST enrollments per second (POST /.well-known/est/bench-est/simpleenroll, HTTP Basic with an
enrollment credential, one distinct P-256 CSR as base64 DER per request) served by gunicorn
(config.wsgi, ANCHORAGE_ENV=production) on PostgreSQL on every core, beside the REST API's
issuance figure (POST /api/v1/certificates, bench/issuance.py's window) measured in the same
run on the same server and load.

    .venv/bin/python bench/est_enroll.py [--quick] [--seconds S] [--connections N]
                                         [--csrs N] [--workers N]

The same bench database, data directory and environment as bench/issuance.py (it uses that
file's set-up, CSR generation and API window; see its docstring). A retried identical EST
enrollment returns the same certificate (idempotency), so the CSRs are many more than the
window can use, and the figure counts certificates the database gained in the window, not
answers. A benchmark, not a test: it reports figures and asserts no times.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _issuance_report import print_figures
from _load import Window, load_python, load_wrk
from _server import (
    BENCH_ENV,
    CpuWatch,
    Server,
    cpu_model,
    django_setup,
    psql,
    quietly,
    wait_quiet,
)
from issuance import (
    ALGORITHMS,
    _child,
    api_rate,
    make_csrs,
    prepare,
    write_bodies,
)

SLUG = "bench-est"
PATH = f"/.well-known/est/{SLUG}/simpleenroll"
TARGET = 500  # enrollments/s on both cores (issue 6)
USERNAME = "bench-device"


def setup_est() -> dict[str, str]:
    """Domain bench-est (api + est) with a local P-256 root + issuing CA, the default
    profiles for *.bench.test (EST is bound to `device`), and the enrollment credential
    bench-device with a fresh secret."""
    django_setup()
    from django.db import transaction

    from enrollment.services import ensure_credential, new_secret
    from pki.crypto.keys import KeyAlgorithm
    from pki.models import CertificateAuthority, Domain
    from pki.services.default_profiles import ensure_default_profiles
    from pki.services.domains import create_domain
    from pki.services.hierarchy import create_local_pki

    with transaction.atomic():
        domain = Domain.objects.filter(slug=SLUG).first() or create_domain(
            SLUG, "Bench EST", protocols=["api", "est"]
        )
        issuing = CertificateAuthority.objects.filter(
            domain=domain, parent__isnull=False, status=CertificateAuthority.Status.ACTIVE
        ).first()
        if issuing is None:
            _, issuing = create_local_pki(domain, KeyAlgorithm.EC_P256)
        ensure_default_profiles(domain, issuing, ["bench.test"])
        secret = new_secret()
        ensure_credential(domain, USERNAME, secret, "bench/est_enroll.py")
    return {"secret": secret}


def issued_count() -> int:
    database = BENCH_ENV["DATABASE_URL"].rsplit("/", 1)[1]
    sql = "SELECT count(*) FROM pki_issuedcertificate WHERE protocol = 'est'"
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-tAc", sql]
    return int(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def est_rate(
    server: Server, load: Any, bodies: Path, auth: str, connections: int, warmup: float,
    seconds: float, workdir: Path,
) -> dict[str, Any]:  # fmt: skip
    """Certificates issued over EST per second in the window (new rows, not answers)."""
    first = bodies.read_text().split("\n", 1)[0].encode()
    headers = {"Authorization": auth, "Content-Type": "application/pkcs10"}
    status, answer = server.request("POST", PATH, first, headers)
    if status != 200:
        return {"unavailable": f"{status} {answer[:200].decode(errors='replace')}"}
    window = Window(
        server.port, bodies, "", connections, warmup, 200, PATH, "application/pkcs10", auth
    )
    load(window, workdir)
    watch = CpuWatch()
    before = issued_count()
    out = dict(load(dataclasses.replace(window, seconds=seconds), workdir))
    gained = issued_count() - before
    out["cpu"] = watch.usage(server.process.pid, ended="load")
    out["others"] = out["cpu"]["others"]
    out["requests"] = out["statuses"].get("200", 0) / out["seconds"]
    out["rate"] = gained / out["seconds"]
    out["unexpected"] = sum(v for k, v in out["statuses"].items() if k != "200")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short windows, fewer CSRs")
    parser.add_argument("--seconds", type=float, help="window per figure (default 10)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--csrs", type=int, help="distinct CSRs (default 30000; quick 6000)")
    parser.add_argument("--workers", type=int, help="gunicorn sync workers (default one a core)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--wait-quiet", type=float, default=120)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    warmup = 1.0 if args.quick else 3.0
    count = args.csrs or (6000 if args.quick else 30000)
    load = load_wrk if args.client == "wrk" or shutil.which("wrk") else load_python
    if args.client == "python":
        load = load_python
    begun = time.monotonic()

    secrets = prepare()  # bench/issuance.py's fixtures: its domains and operator token
    est = json.loads(_child(Path(__file__), "_setup"))
    auth = "Basic " + base64.b64encode(f"{USERNAME}:{est['secret']}".encode()).decode()
    csrs = make_csrs(count)
    workdir = Path(tempfile.mkdtemp(prefix="anchorage-bench-est-"))
    atexit.register(shutil.rmtree, workdir, True)
    # EST bodies: base64 DER on one line (the PEM's body, joined).
    est_bodies = workdir / "est.b64"
    est_bodies.write_text("".join("".join(p.strip().splitlines()[1:-1]) + "\n" for p in csrs))
    api_bodies = write_bodies(workdir / "api.jsonl", ALGORITHMS["P-256"][2], "csr", csrs)
    print(f"{count} P-256 CSRs ready ({time.monotonic() - begun:.0f} s)", flush=True)

    # The pool must not shed this load: it measures throughput, not the bulkhead.
    os.environ["ANCHORAGE_EST_MAX_CONCURRENT"] = str(4 * args.connections)
    busy = wait_quiet(args.wait_quiet)
    server = Server(secrets, "sync", args.workers or cores, 1)
    quiet: dict[str, float] = {}
    try:
        est_figure, quiet["EST"] = quietly(
            "the EST window",
            lambda: est_rate(
                server, load, est_bodies, auth, args.connections, warmup, seconds, workdir
            ),
            args.wait_quiet,
            args.attempts,
        )
        api_figure, quiet["API"] = quietly(
            "the API window",
            lambda: api_rate(
                server, load, api_bodies, secrets["token"], args.connections, warmup, seconds,
                workdir,
            ),
            args.wait_quiet,
            args.attempts,
        )  # fmt: skip
    finally:
        server.stop()

    print()
    print(f"machine: {cores} cores ({cpu_model()}), PostgreSQL {psql('SHOW server_version')}")
    print(
        f"gunicorn config.wsgi, {server.describe}, ANCHORAGE_ENV=production;"
        f" load: {'wrk' if load is load_wrk else 'asyncio client'}, {args.connections}"
        f" connections, {warmup:.0f} s warm-up + {seconds:.0f} s; P-256 software CA"
    )
    print_figures(
        [
            ("EST simpleenroll", est_figure, "enrollments/s"),
            ("API POST /api/v1/certificates", api_figure, "certificates/s"),
        ],
        quiet,
        busy,
    )
    if "rate" in est_figure:
        share = est_figure["rate"] / TARGET
        ratio = est_figure["rate"] / api_figure["rate"] if api_figure.get("rate") else 0
        print(f"target {TARGET} enrollments/s: EST at {share:.0%}; EST / API = {ratio:.2f}")
    print(f"total {time.monotonic() - begun:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_setup":
        print(json.dumps(setup_est()))
    else:
        main()
