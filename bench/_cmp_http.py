"""bench/cmp_ir.py --http: CMP ir transactions per second under gunicorn over HTTP, beside the
REST API's issuance on the same server in the same run, with bench/est_enroll.py's harness
(bench/_server.py, bench/issuance.py's fixtures and API window). A library of cmp_ir.py.

The CMP load cannot replay a file of bodies as bench/_load.py does: each ir carries its own
nonce and transactionID, and a second use is refused as a replay. So the messages are made
before the window, each used once, and POSTed by threads in a process of their own (argv
`_load`, so the CPU watch counts it as the load generator)."""

from __future__ import annotations

import argparse
import atexit
import http.client
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from _issuance_report import print_figures
from _load import load_python, load_wrk
from _server import (
    BENCH_ENV,
    PY,
    ROOT,
    CpuWatch,
    Server,
    bench_env,
    cpu_model,
    django_setup,
    psql,
    quietly,
    wait_quiet,
)
from issuance import ALGORITHMS, _child, api_rate, make_csrs, prepare, write_bodies

SLUG = "bench-cmp"
PATH = f"/.well-known/cmp/p/{SLUG}"
REFERENCE = "bench-http"
SCRIPT = Path(__file__).resolve().parent / "cmp_ir.py"


def setup_cmp() -> dict[str, str]:
    """Domain bench-cmp (every protocol) with a local P-256 root + issuing CA, the default
    profiles for *.bench.test, and a fresh CMP secret bench-http-<random>."""
    django_setup()
    from django.db import transaction

    from enrollment.cmp import services
    from pki.crypto.keys import KeyAlgorithm
    from pki.models import CertificateAuthority, Domain, Protocol
    from pki.services.default_profiles import ensure_default_profiles
    from pki.services.domains import create_domain
    from pki.services.hierarchy import create_local_pki

    with transaction.atomic():
        domain = Domain.objects.filter(slug=SLUG).first() or create_domain(
            SLUG, "Bench CMP", protocols=list(Protocol.values)
        )
        issuing = CertificateAuthority.objects.filter(
            domain=domain, parent__isnull=False, status=CertificateAuthority.Status.ACTIVE
        ).first()
        if issuing is None:
            _, issuing = create_local_pki(domain, KeyAlgorithm.EC_P256)
        ensure_default_profiles(domain, issuing, ["bench.test"])
        # A fresh secret each run: earlier runs' transactions keep theirs (PROTECT).
        reference = f"{REFERENCE}-{uuid.uuid4().hex[:8]}"
        _, secret = services.create_secret(domain, None, reference=reference)
    return {"secret": secret, "reference": reference}


def make_bodies(path: Path, count: int, secret: str, reference: str) -> None:
    """`count` ir messages (fresh key, nonce and transactionID each), length-prefixed."""
    sys.path.insert(0, str(ROOT))
    from cryptography.hazmat.primitives.asymmetric import ec

    from pki.crypto.cmp import client

    with path.open("wb") as out:
        for i in range(count):
            key = ec.generate_private_key(ec.SECP256R1())
            session = client.Session(
                reference=reference.encode(), secret=secret.encode(), implicit_confirm=True
            )
            body = client.message(session, "ir", client.cert_request(key, f"CN=h{i}.bench.test"))
            out.write(struct.pack(">I", len(body)) + body)


def _read_bodies(path: Path) -> list[bytes]:
    data, bodies, at = path.read_bytes(), [], 0
    while at < len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        bodies.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return bodies


def _load(window: dict[str, Any]) -> dict[str, Any]:
    """POST bodies[first:] (each once) from `connections` threads for `seconds`."""
    bodies = _read_bodies(Path(window["bodies"]))[window["first"] :]
    lock = threading.Lock()
    position = iter(range(len(bodies)))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    socket_errors = 0
    deadline = time.monotonic() + window["seconds"]

    def worker() -> None:
        nonlocal socket_errors
        conn = http.client.HTTPConnection("127.0.0.1", window["port"], timeout=30)
        headers = {"Content-Type": "application/pkixcmp", "X-Forwarded-Proto": "https"}
        while time.monotonic() < deadline:
            with lock:
                i = next(position, None)
            if i is None:
                return
            began = time.monotonic()
            try:
                conn.request("POST", PATH, bodies[i], headers)
                response = conn.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):
                with lock:
                    socket_errors += 1
                conn.close()
                continue
            with lock:
                latencies.append(time.monotonic() - began)
                statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
                if response.status != 200 and len(errors) < 5:
                    errors.append(f"{response.status} {answer[:200]!r}")
            if response.getheader("Connection", "").lower() == "close":
                conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(window["connections"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[int(p * (len(latencies) - 1))] * 1000 if latencies else 0.0

    return {
        "seconds": seconds,
        "statuses": statuses,
        "socket_errors": socket_errors,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "errors": errors,
        "used": len(latencies) + socket_errors,
        "exhausted": next(position, None) is None,
    }


def child(kind: str, argv: list[str]) -> None:
    if kind == "_setup":
        print(json.dumps(setup_cmp()))
    else:
        print(json.dumps(_load(json.loads(argv[0]))))


def _run_load(window: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [PY, str(SCRIPT), "_load", json.dumps(window)],
        cwd=ROOT,
        env=bench_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def issued_count() -> int:
    database = BENCH_ENV["DATABASE_URL"].rsplit("/", 1)[1]
    sql = "SELECT count(*) FROM pki_issuedcertificate WHERE protocol = 'cmp'"
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-tAc", sql]
    return int(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def cmp_rate(
    server: Server, bodies: Path, connections: int, warmup: float, seconds: float
) -> dict[str, Any]:
    """Certificates issued over CMP ir per second in the window (new rows, not answers).
    Warm-up and window use disjoint bodies: never a replay."""
    window = {"port": server.port, "bodies": str(bodies), "connections": connections}
    first = _run_load({**window, "first": 0, "seconds": warmup})
    watch = CpuWatch()
    before = issued_count()
    out = _run_load({**window, "first": first["used"], "seconds": seconds})
    gained = issued_count() - before
    out["cpu"] = watch.usage(server.process.pid, ended="load")
    out["rate"] = gained / out["seconds"]
    out["unexpected"] = sum(v for k, v in out["statuses"].items() if k != "200")
    if out["exhausted"]:
        out["errors"].append("ran out of prepared messages: raise --messages")
    return out


def over_http(args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    warmup = 1.0 if args.quick else 3.0
    count = args.messages or (1500 if args.quick else 5000)
    load = load_wrk if shutil.which("wrk") else load_python
    begun = time.monotonic()

    secrets = prepare()  # bench/issuance.py's fixtures: its domains and operator token
    cmp = json.loads(_child(SCRIPT, "_setup"))
    workdir = Path(tempfile.mkdtemp(prefix="anchorage-bench-cmp-"))
    atexit.register(shutil.rmtree, workdir, True)
    cmp_bodies = workdir / "ir.bin"
    make_bodies(cmp_bodies, count, cmp["secret"], cmp["reference"])
    api_bodies = write_bodies(
        workdir / "api.jsonl", ALGORITHMS["P-256"][2], "csr", make_csrs(count)
    )
    print(f"{count} ir messages and CSRs ready ({time.monotonic() - begun:.0f} s)", flush=True)

    busy = wait_quiet(120)
    server = Server(secrets, "sync", args.workers or cores, 1)
    quiet: dict[str, float] = {}
    try:
        cmp_figure, quiet["CMP"] = quietly(
            "the CMP window",
            lambda: cmp_rate(server, cmp_bodies, args.connections, warmup, seconds),
            120,
            1,  # the prepared messages are used once: one attempt
        )
        api_figure, quiet["API"] = quietly(
            "the API window",
            lambda: api_rate(
                server, load, api_bodies, secrets["token"], args.connections, warmup, seconds,
                workdir,
            ),
            120,
            3,
        )  # fmt: skip
    finally:
        server.stop()

    print()
    print(f"machine: {cores} cores ({cpu_model()}), PostgreSQL {psql('SHOW server_version')}")
    print(
        f"gunicorn config.wsgi, {server.describe}, ANCHORAGE_ENV=production;"
        f" {args.connections} connections, {warmup:.0f} s warm-up + {seconds:.0f} s;"
        f" CMP load: threads; API load: {'wrk' if load is load_wrk else 'asyncio client'};"
        " P-256 software CA"
    )
    print_figures(
        [
            ("CMP ir (PBM, implicitConfirm)", cmp_figure, "transactions/s"),
            ("API POST /api/v1/certificates", api_figure, "certificates/s"),
        ],
        quiet,
        busy,
    )
    if cmp_figure.get("rate") and api_figure.get("rate"):
        print(f"CMP ir / API issuance: {cmp_figure['rate'] / api_figure['rate']:.2f}")
    print(f"total {time.monotonic() - begun:.0f} s")
