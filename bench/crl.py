"""CRL generation time and peak memory for CAs with 100,000 and 1,000,000 revoked
certificates, on PostgreSQL, beside baselines measured in the same run:

    service      pki.services.crls.generate(ca, delta=False): lock, read the stored entries,
                 build + sign (pki.crypto.crl.build_crl), store the CRL row, audit; with the
                 read and build + sign parts timed on their own
    openssl      `openssl ca -gencrl` over an index.txt with the same number of revoked
                 entries (its own P-256 CA key in a file)
    cryptography one RevokedCertificateBuilder a certificate added to cryptography's
                 CertificateRevocationListBuilder, then sign (--loop-size entries; it is
                 quadratic, so 1,000,000 is out of reach)

    .venv/bin/python bench/crl.py [--sizes 100000,1000000] [--loop-size 100000] [--runs 2]

Each figure runs in a process of its own, so its peak RSS (ru_maxrss, from wait4) is its
own; the service's process also reports its RSS before generating (Django loaded, key
unsealed). The revocations are inserted once with COPY (an IssuedCertificate row each, which
the foreign key needs) and kept in the bench database for the next run:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/anchorage_bench_crl

A benchmark, not a test: it reports figures and asserts no times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _server
from _server import PY, ROOT, cpu_model

_server.BENCH_ENV["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/anchorage_bench_crl"
DOMAIN = "bench-crl"
SELF = Path(__file__).resolve()


def slug_for(size: int) -> str:
    return f"bench-crl-{size}"


# --- in child processes --------------------------------------------------------------------------


def populate(size: int) -> dict[str, Any]:
    """A CA with `size` revoked certificates (created once; kept between runs)."""
    _server.django_setup()
    from datetime import timedelta

    from django.db import connection, transaction

    from pki.crypto import certs, crl
    from pki.models import CertificateAuthority, Domain, ProfileVersion, Revocation
    from pki.services import hierarchy, profiles

    slug = slug_for(size)
    domain, _ = Domain.objects.get_or_create(slug=DOMAIN, defaults={"name": "Bench CRL"})
    if not CertificateAuthority.objects.filter(domain=domain).exists():
        _, issuing = hierarchy.create_local_pki(domain)
        spec = {"key_types": ["ec"], "validity_days": 90, "dns_suffixes": ["bench.test"]}
        profiles.save_profile(domain, "bench", spec, issuing)
    if Revocation.objects.filter(ca__slug=slug).count() == size:
        return {"inserted": 0}
    parent = CertificateAuthority.objects.get(slug=f"{DOMAIN}-issuing")
    ca = CertificateAuthority.objects.filter(slug=slug).first()
    if ca is None:  # a CA row of its own per size, sharing the issuing CA's key and certificate
        ca = CertificateAuthority.objects.get(pk=parent.pk)
        ca.pk, ca.slug, ca.name = None, slug, slug
        ca.save()
    version = ProfileVersion.objects.filter(profile__domain=domain).first()
    assert version is not None
    now = certs.now()
    not_after = now + timedelta(days=90)
    reasons = ["keyCompromise", "superseded", "cessationOfOperation", "unspecified"]
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        raw: Any = cursor.cursor
        serials = [certs.random_serial() for _ in range(size)]
        columns = (
            "domain_id, ca_id, profile_version_id, serial, der, subject, sans, not_before, "
            "not_after, fingerprint, key_algorithm, status, protocol, requester, created_at"
        )
        with raw.copy(f"COPY pki_issuedcertificate ({columns}) FROM STDIN") as copy:
            for serial in serials:
                hexed = certs.serial_hex(serial)
                first = (domain.pk, ca.pk, version.pk, hexed, b"", "CN=bench", "[]", now)
                copy.write_row(
                    (*first, not_after, hexed[:64], "ec-p256", "revoked", "api", "bench", now)
                )
        cursor.execute("SELECT serial, id FROM pki_issuedcertificate WHERE ca_id = %s", [ca.pk])
        ids = dict(cursor.fetchall())
        columns = (
            "certificate_id, ca_id, serial, not_after, reason, revoked_at, invalidity_date, "
            "entry, requester, updated_at"
        )
        with raw.copy(f"COPY pki_revocation ({columns}) FROM STDIN") as copy:
            for n, serial in enumerate(serials):
                hexed = certs.serial_hex(serial)
                reason = reasons[n % len(reasons)]
                invalid = now - timedelta(days=1) if n % 10 == 0 else None
                entry = crl.encode_entry(serial, now, reason, invalid)
                row = (ids[hexed], ca.pk, hexed, not_after, reason, now, invalid, entry)
                copy.write_row((*row, "bench", now))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE pki_revocation")
    return {"inserted": size, "seconds": round(time.monotonic() - started, 1)}


def measure(size: int) -> dict[str, Any]:
    """One complete CRL of the CA with `size` entries, timed as a whole and by part."""
    _server.django_setup()
    import resource

    from pki.crypto import crl
    from pki.crypto.backends import get_signer
    from pki.models import CertificateAuthority
    from pki.services import crl_storage, crls

    ca = CertificateAuthority.objects.select_related("domain").get(slug=slug_for(size))
    get_signer(ca.key_backend, ca.key_ref)  # the key is loaded once per process anyway
    parts = {"read": 0.0, "build": 0.0}
    read, build = crl_storage.complete_entries, crl.build_crl

    def timed_read(*args: Any) -> Any:
        started = time.perf_counter()
        out = read(*args)
        parts["read"] += time.perf_counter() - started
        return out

    def timed_build(**kwargs: Any) -> bytes:
        started = time.perf_counter()
        out = build(**kwargs)
        parts["build"] += time.perf_counter() - started
        return out

    crl_storage.complete_entries, crl.build_crl = timed_read, timed_build  # type: ignore[assignment]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    made = crls.generate(ca, delta=False)
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "entries": made.entries,
        "seconds": total,
        "read": parts["read"],
        "build": parts["build"],
        "bytes": len(made.der),
        "rss_before_kb": before,
        "rss_peak_kb": peak,
    }


def crypto_loop(size: int) -> dict[str, Any]:
    """cryptography's builder, one entry at a time, then sign: the way DESIGN.md rules out."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Bench")])
    now = datetime.now(UTC)
    started = time.perf_counter()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name)
        .last_update(now)
        .next_update(now + timedelta(hours=1))
    )
    reason = x509.CRLReason(x509.ReasonFlags.key_compromise)
    for _ in range(size):
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(x509.random_serial_number())
            .revocation_date(now)
            .add_extension(reason, critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    builder.sign(key, hashes.SHA256())
    return {"entries": size, "seconds": time.perf_counter() - started}


# --- the parent ----------------------------------------------------------------------------------


def run_child(*argv: str) -> tuple[dict[str, Any], int]:
    """A child's JSON answer and its peak RSS in kB (wait4: that process alone, until it
    exits: the service's child reports its own peak at the end of generate())."""
    process = subprocess.Popen(
        [PY, str(SELF), *argv], cwd=ROOT, env=_server.bench_env(), stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        sys.exit(f"{argv[0]} failed ({status})")
    return json.loads(out.decode().strip().splitlines()[-1]), usage.ru_maxrss


def openssl_gencrl(size: int, workdir: Path) -> tuple[float, int]:
    """`openssl ca -gencrl` over an index.txt of `size` revoked entries."""
    ca_key, ca_cert = workdir / "ca.key", workdir / "ca.pem"
    if not ca_cert.exists():
        subprocess.run(
            [
                *(
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ),
                *("-nodes", "-keyout", str(ca_key), "-out", str(ca_cert), "-subj", "/CN=Bench"),
                *("-days", "30"),
            ],
            check=True,
            capture_output=True,
        )
    index = workdir / f"index-{size}.txt"
    if not index.exists():
        with index.open("w") as out:
            for n in range(size):
                serial = os.urandom(20).hex().upper()
                out.write(
                    f"R\t361231000000Z\t261126000000Z,keyCompromise\t{serial}\tunknown\t/CN={n}\n"
                )
    (workdir / "crlnumber").write_text("01\n")
    config = workdir / "openssl.cnf"
    config.write_text(
        "[ca]\ndefault_ca = bench\n[bench]\n"
        f"database = {index}\ncrlnumber = {workdir / 'crlnumber'}\n"
        "default_md = sha256\ndefault_crl_days = 1\n"
    )
    command = ["openssl", "ca", "-gencrl", "-config", str(config), "-keyfile", str(ca_key)]
    command += ["-cert", str(ca_cert), "-out", str(workdir / "out.crl")]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        assert process.stderr is not None
        sys.exit(f"openssl ca -gencrl failed: {process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--loop-size", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2, help="service runs a size; best kept")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    _server.migrate()
    started = time.monotonic()
    rows = []
    others: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-crl-") as tmp:
        for size in sizes:
            filled, _ = run_child("_populate", str(size))
            if filled["inserted"]:
                print(f"inserted {size:,} revocations in {filled['seconds']} s", flush=True)
            _server.wait_quiet(60)  # another engineer's test run would slow the figures
            watch = _server.CpuWatch()
            runs = [run_child("_measure", str(size)) for _ in range(args.runs)]
            others[size] = watch.others()
            best, _ = min(runs, key=lambda r: r[0]["seconds"])
            rss = best["rss_peak_kb"]
            openssl_s, openssl_rss = openssl_gencrl(size, Path(tmp))
            rows.append((size, best, rss, openssl_s, openssl_rss))
        loop, loop_rss = run_child("_loop", str(args.loop_size)) if args.loop_size else ({}, 0)
    print(f"\n.venv/bin/python bench/crl.py   # {time.strftime('%Y-%m-%d %H:%M')} UTC,")
    print(f"# {time.monotonic() - started:.0f} s, {os.cpu_count()} cores, {cpu_model()}\n")
    print(
        f"{'entries':>10} {'service s':>10} {'read s':>7} {'build+sign s':>13} "
        f"{'peak RSS MB':>12} {'(+MB)':>6} {'CRL MB':>7} {'openssl ca s':>13} {'openssl MB':>11}"
    )
    for size, best, rss, openssl_s, openssl_rss in rows:
        grew = (rss - best["rss_before_kb"]) / 1024
        print(
            f"{size:>10,} {best['seconds']:>10.2f} {best['read']:>7.2f} {best['build']:>13.2f} "
            f"{rss / 1024:>12.0f} {grew:>6.0f} {best['bytes'] / 2**20:>7.1f} "
            f"{openssl_s:>13.2f} {openssl_rss / 1024:>11.0f} {others[size]:>6.2f} cores"
        )
    if loop:
        print(
            f"\ncryptography builder, one entry at a time: {loop['entries']:,} entries in "
            f"{loop['seconds']:.1f} s, peak RSS {loop_rss / 1024:.0f} MB"
        )
    target = next((r for r in rows if r[0] == 1_000_000), None)
    if target:
        print(f"target: 1,000,000 entries under 10 s: {target[1]['seconds']:.2f} s")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1].startswith("_"):
        job = {"_populate": populate, "_measure": measure, "_loop": crypto_loop}[sys.argv[1]]
        print(json.dumps(job(int(sys.argv[2]))))
    else:
        main()
