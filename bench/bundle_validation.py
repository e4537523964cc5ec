"""Truststore bundle validation time (truststores.validation.validate: parse every
certificate once, facts, policy, chains built inside the bundle with every link's signature
verified) beside `openssl crl2pkcs7 -nocrl -certfile bundle.pem | openssl pkcs7 -print_certs
-noout` on the same file, in the same run, wall time, best of --runs:

    roots-150     150 self-signed roots: 100 RSA-2048 and 50 P-256
    system-roots  the Debian ca-certificates bundle (/etc/ssl/certs/ca-certificates.crt)
    chains-1000   250 chains of root + 2 intermediates + issuing CA, P-256

    .venv/bin/python bench/bundle_validation.py [--runs 7]

A benchmark, not a test: it reports figures and asserts no times. validate() runs in this
process (the first, cold call is discarded by taking the best); openssl's figure includes
starting two processes, which is what an operator following the documentation pays.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.truststores.bundle_certs import chain, make, p256, pem, rsa_key  # noqa: E402
from truststores.validation import validate  # noqa: E402

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def roots_150() -> bytes:
    certs = [make(f"RSA root {n}", rsa_key()) for n in range(100)]
    certs += [make(f"EC root {n}", p256()) for n in range(50)]
    return pem(*certs)


def chains_1000() -> bytes:
    certs = []
    for n in range(250):
        certs += [c for c, _ in reversed(chain(4, f"chain {n}"))]
    return pem(*certs)


def best(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def openssl_print_certs(path: Path) -> None:
    """openssl crl2pkcs7 -nocrl -certfile PATH | openssl pkcs7 -print_certs -noout"""
    first = subprocess.Popen(
        ["openssl", "crl2pkcs7", "-nocrl", "-certfile", str(path)], stdout=subprocess.PIPE
    )
    second = subprocess.run(
        ["openssl", "pkcs7", "-print_certs", "-noout"],
        stdin=first.stdout,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    assert first.stdout is not None
    first.stdout.close()
    if first.wait() != 0 or second.returncode != 0:
        raise RuntimeError("openssl failed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    bundles = {"roots-150": roots_150(), "chains-1000": chains_1000()}
    if SYSTEM_BUNDLE.exists():
        bundles["system-roots"] = SYSTEM_BUNDLE.read_bytes()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in bundles.items():
            path = Path(tmp) / f"{name}.pem"
            path.write_bytes(data)
            v = validate(data)
            ours = best(lambda d=data: validate(d), args.runs)
            theirs = best(lambda p=path: openssl_print_certs(p), args.runs)
            rows.append((name, v.certificate_count, v.verdict, ours, theirs))
    print(f"best of {args.runs}, wall time, {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}")
    print(f"{'bundle':<14} {'certs':>6} {'verdict':>8} {'validate ms':>12} {'µs/cert':>8} "
          f"{'openssl ms':>11}")  # fmt: skip
    for name, n, verdict, ours, theirs in rows:
        print(f"{name:<14} {n:>6} {verdict:>8} {ours * 1e3:>12.1f} {ours / n * 1e6:>8.0f} "
              f"{theirs * 1e3:>11.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
