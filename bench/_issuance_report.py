"""The report of bench/issuance.py: the figures of one run, printed as RESULTS.md keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from _server import QUIET, cpu_model, psql

BATCH_PATH = "/api/v1/certificates/batch"
TARGET = 1000  # certificates/s with a P-256 software key (issue 3)


@dataclass(frozen=True)
class Setting:
    """How the run was made, as the report states it."""

    cores: int
    busy: float  # cores of other work at the start
    server: str  # the gunicorn set-up
    client: str  # the load generator
    warmup: float
    seconds: float
    count: int  # distinct CSRs
    size: int  # CSRs a batch request


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def print_figures(
    figures: list[tuple[str, dict[str, Any], str]], quiet: dict[str, float], busy: float
) -> None:
    """One protocol figure beside the API's, as bench/est_enroll.py and bench/cmp_ir.py print
    them: the rate, latency and CPU per certificate of each, then how busy the machine was."""
    for name, got, unit in figures:
        if "unavailable" in got:
            print(f"{name}: unavailable: {got['unavailable']}")
            continue
        cpu = got["cpu"]
        per = {k: v * 1000 / got["rate"] for k, v in cpu.items()} if got["rate"] else {}
        print(
            f"{name:<31} {fmt(got['rate']):>6} {unit}  p50 {got['p50_ms']:.0f} ms"
            f"  p99 {got['p99_ms']:.0f} ms  unexpected {got['unexpected']}"
            f"  socket errors {got['socket_errors']}"
        )
        print(
            "    CPU, cores (ms a certificate): "
            + ", ".join(f"{k} {v:.2f} ({per.get(k, 0):.1f})" for k, v in cpu.items())
        )
        for error in got["errors"]:
            print(f"    {error}")
    noisy = {k: v for k, v in quiet.items() if v >= QUIET}
    print(
        f"other work on the machine: {busy:.2f} cores at the start; "
        + (
            f"under {QUIET} cores during every figure"
            if not noisy
            else "busy during " + ", ".join(f"{k} ({v:.2f} cores)" for k, v in noisy.items())
        )
    )


def report(
    rows: dict[str, dict[str, Any]],
    floor: dict[str, Any],
    quiet: dict[str, float],
    run: Setting,
    *,
    connections: int,
    profile: bool,
) -> None:
    print()
    print(f"machine: {run.cores} cores ({cpu_model()}), PostgreSQL {psql('SHOW server_version')}")
    print(
        f"API: gunicorn config.wsgi, {run.server}, ANCHORAGE_ENV=production; load: {run.client},"
        f" {run.warmup:.0f} s warm-up + {run.seconds:.0f} s; {run.count} distinct P-256 CSRs, one"
        " Idempotency-Key each"
    )
    print(
        f"API batch: POST {BATCH_PATH}, {run.size} distinct CSRs a request (batch size {run.size}),"
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
            ("API batch", row["batch"], f"a request of {run.size} certificates"),
        ):
            if "unavailable" in api:
                print(f"{label}: {name} unavailable: {api['unavailable']}")
                continue
            print(
                f"{label}: {name} p50 {api['p50_ms']:.1f} ms, p99 {api['p99_ms']:.1f} ms {unit}"
                f" at {connections} connections ({api['requests']:,.1f} requests/s);"
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
        f"other work on the machine: {run.busy:.2f} cores at the start; "
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
            for name, rate in (("API", p256), (f"API batch of {run.size}", p256_batch))
            if rate is not None
        ]
        print(f"\ntarget {TARGET:,} certificates/s (P-256, software key): " + ", ".join(reached))
    if profile:
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
