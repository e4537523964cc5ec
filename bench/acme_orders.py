"""Complete ACME orders per second (RFC 8555: new order → authorization → challenge → order
ready → finalize → certificate download), served by gunicorn (config.wsgi) on PostgreSQL with
challenges settled by a Celery worker, beside the REST API's issuance rate (bench/issuance.py's
POST /api/v1/certificates) measured in the same run on the same machine.

The challenge check itself is short-circuited with ANCHORAGE_ACME_BENCH_SKIP_VALIDATION=1 (a
benchmark-only setting: the settings refuse to load with it when ANCHORAGE_ENV=production),
so the figure is the protocol's and the issuance path's cost, not a network round trip to a
client's port 80. The ACME server therefore runs with ANCHORAGE_ENV=development and DEBUG off;
the API figure uses bench/issuance.py's production server.

    .venv/bin/python bench/acme_orders.py [--quick] [--clients N] [--seconds S]

Same bench database, Redis and data directory as bench/issuance.py; never point it at real
data. A benchmark, not a test: it reports figures and asserts no times.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _load import load_python, load_wrk
from _server import PY, ROOT, Server, bench_env, cpu_model, django_setup, free_port, psql
from issuance import ALGORITHMS, api_rate, make_csrs, prepare, write_bodies

SLUG = ALGORITHMS["P-256"][2]  # bench-p256: its local PKI, with ACME on for bench.test


def setup_acme() -> None:
    django_setup()
    from enrollment.acme import services as acme
    from pki.models import CertificateAuthority, Domain

    domain = Domain.objects.get(slug=SLUG)
    issuing = CertificateAuthority.objects.filter(
        domain=domain, parent__isnull=False, status=CertificateAuthority.Status.ACTIVE
    ).first()
    assert issuing is not None
    acme.enable(domain, issuing, ["bench.test"])


# --- a small ACME client (RFC 8555 §6.2 JWS, ES256) -------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Client:
    def __init__(self, port: int) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64u(numbers.x.to_bytes(32, "big")),
            "y": b64u(numbers.y.to_bytes(32, "big")),
        }
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.base = f"http://127.0.0.1:{port}/acme/{SLUG}"
        self.nonce = ""
        self.kid = ""

    def request(self, method: str, url: str, body: bytes | None = None) -> tuple[int, Any, Any]:
        headers = {"Content-Type": "application/jose+json"} if body is not None else {}
        self.conn.request(method, url.removeprefix(f"http://127.0.0.1:{self.port}"), body, headers)
        response = self.conn.getresponse()
        data = response.read()
        self.nonce = response.getheader("Replay-Nonce") or self.nonce
        return response.status, response.headers, data

    def post(self, url: str, payload: Any) -> tuple[int, Any, Any]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        if not self.nonce:
            self.request("HEAD", f"{self.base}/new-nonce")
        protected: dict[str, Any] = {"alg": "ES256", "nonce": self.nonce, "url": url}
        if self.kid:
            protected["kid"] = self.kid
        else:
            protected["jwk"] = self.jwk
        p64 = b64u(json.dumps(protected).encode())
        b64 = "" if payload is None else b64u(json.dumps(payload).encode())
        r, s = decode_dss_signature(
            self.key.sign(f"{p64}.{b64}".encode(), ec.ECDSA(hashes.SHA256()))
        )
        sig = b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        self.nonce = ""
        body = json.dumps({"protected": p64, "payload": b64, "signature": sig}).encode()
        return self.request("POST", url, body)

    def register(self) -> None:
        status, headers, _ = self.post(f"{self.base}/new-account", {"termsOfServiceAgreed": True})
        assert status in (200, 201), status
        self.kid = headers["Location"]

    def complete_order(self, name: str, csr_der: bytes) -> None:
        ids = {"identifiers": [{"type": "dns", "value": name}]}
        status, headers, data = self.post(f"{self.base}/new-order", ids)
        assert status == 201, data
        order_url, order = headers["Location"], json.loads(data)
        _, _, data = self.post(order["authorizations"][0], None)
        challenge = json.loads(data)["challenges"][0]
        self.post(challenge["url"], {})
        for _ in range(600):
            _, _, data = self.post(order_url, None)
            order = json.loads(data)
            if order["status"] != "pending":
                break
            time.sleep(0.02)
        assert order["status"] == "ready", order
        status, _, data = self.post(order["finalize"], {"csr": b64u(csr_der)})
        assert status == 200 and json.loads(data)["status"] == "valid", data
        status, _, pem = self.post(json.loads(data)["certificate"], None)
        assert status == 200 and pem.count(b"BEGIN CERTIFICATE") == 2


def der_csrs(pems: list[str]) -> list[bytes]:
    out = []
    for pem in pems:
        body = "".join(line for line in pem.splitlines() if "-----" not in line)
        out.append(base64.b64decode(body))
    return out


def names_of(pems: list[str]) -> list[str]:
    from cryptography import x509

    return [
        x509.load_pem_x509_csr(p.encode())
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value.get_values_for_type(x509.DNSName)[0]
        for p in pems
    ]


def acme_rate(
    port: int, clients: int, seconds: float, csrs: list[bytes], names: list[str]
) -> dict[str, Any]:
    """Complete orders per second from `clients` threads, each with its own account."""
    lock = threading.Lock()
    index = [0]
    latencies: list[float] = []
    errors: list[str] = []
    window = [0.0, 0.0]  # start, end: set when every client has warmed up

    def open_window() -> None:
        window[0] = time.monotonic()
        window[1] = window[0] + seconds

    ready = threading.Barrier(clients, action=open_window)

    def take() -> int:
        with lock:
            index[0] += 1
            return index[0] % len(csrs)

    def run() -> None:
        try:
            client = Client(port)
            client.register()
            warm = take()
            client.complete_order(names[warm], csrs[warm])  # warm-up: connections, worker pool
            ready.wait(timeout=300)
        except threading.BrokenBarrierError:
            return
        except Exception as exc:
            with lock:
                errors.append(f"warm-up: {exc!r}"[:300])
            ready.abort()
            return
        while time.monotonic() < window[1]:
            i = take()
            started = time.monotonic()
            try:
                client.complete_order(names[i], csrs[i])
            except Exception as exc:
                with lock:
                    errors.append(repr(exc)[:300])
                return
            with lock:
                latencies.append(time.monotonic() - started)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - window[0]
    latencies.sort()
    return {
        "rate": len(latencies) / elapsed,
        "orders": len(latencies),
        "p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0,
        "errors": errors[:3],
    }


class AcmeServer:
    """gunicorn + a Celery worker with validation short-circuited (development mode)."""

    def __init__(self, secrets: dict[str, str], workers: int) -> None:
        self.port = free_port()
        env = bench_env(
            SECRET_KEY=secrets["secret_key"],
            ANCHORAGE_KEK=secrets["kek"],
            ALLOWED_HOSTS="127.0.0.1",
            ANCHORAGE_ACME_BENCH_SKIP_VALIDATION="1",
            ANCHORAGE_ACME_ORDERS_PER_HOUR="0",  # the clients order far more than people do
        )
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        self.web = subprocess.Popen(
            [PY, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.worker = subprocess.Popen(
            [PY, "-m", "celery", "-A", "config", "worker", "-l", "warning", "-c", "2",
             "--without-heartbeat", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", f"/acme/{SLUG}/directory")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the ACME server did not come up:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        for process in (self.web, self.worker):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--clients", type=int, default=8, help="concurrent ACME clients")
    parser.add_argument("--connections", type=int, default=16, help="API load connections")
    args = parser.parse_args()
    seconds = args.seconds or (5.0 if args.quick else 15.0)
    cores = os.cpu_count() or 1
    secrets = prepare()
    result = subprocess.run(
        [PY, str(Path(__file__)), "_setup"], cwd=ROOT, env=bench_env(), capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"ACME set-up failed:\n{result.stderr[-3000:]}")
    pems = make_csrs(1000 if args.quick else 3000)
    workdir = Path(tempfile.mkdtemp(prefix="anchorage-bench-acme-"))
    atexit.register(shutil.rmtree, workdir, True)

    # The baseline: POST /api/v1/certificates, bench/issuance.py's production server and load.
    bodies = write_bodies(workdir / "bodies.jsonl", SLUG, "csr", pems)
    load = load_wrk if shutil.which("wrk") else load_python
    server = Server(secrets, "sync", cores, 1)
    try:
        api = api_rate(server, load, bodies, secrets["token"], args.connections, 2.0, seconds,
                       workdir)  # fmt: skip
    finally:
        server.stop()

    acme_server = AcmeServer(secrets, cores)
    try:
        fresh = make_csrs(1000 if args.quick else 3000)  # the API run used the first ones
        got = acme_rate(acme_server.port, args.clients, seconds, der_csrs(fresh), names_of(fresh))
    finally:
        acme_server.stop()
    print(f"machine: {cores} cores ({cpu_model()}), PostgreSQL {psql('SHOW server_version')}")
    print(f"API: gunicorn, {cores} sync workers, production mode; {args.connections} connections")
    print(f"ACME: gunicorn, {cores} sync workers + a Celery worker (-c 2); {args.clients} clients,"
          " one account each; validation short-circuited (bench-only setting)")  # fmt: skip
    print(f"{'figure':<40} {'per second':>12} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'API certificates (POST, one CSR)':<40} {api.get('rate', 0):>12.1f}"
          f" {api.get('p50_ms', 0):>8.1f} {api.get('p99_ms', 0):>8.1f}")  # fmt: skip
    print(f"{'ACME complete orders (7+ requests each)':<40} {got['rate']:>12.1f}"
          f" {got['p50_ms']:>8.1f} {got['p99_ms']:>8.1f}")  # fmt: skip
    if api.get("rate"):
        print(f"ACME orders / API certificates: {got['rate'] / api['rate']:.2f}")
    print(f"ACME orders completed: {got['orders']}; errors: {got['errors'] or 'none'}")
    if "unavailable" in api:
        print(f"API unavailable: {api['unavailable']}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_setup":
        setup_acme()
    else:
        main()
