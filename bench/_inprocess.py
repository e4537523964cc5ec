"""The in-process figures of bench/issuance.py, measured in a Django process of their own for
one algorithm: the service path (issue(), one thread) with its queries, the view through
Django's test client (no HTTP server), the bare certificate builder and, with --profile,
where the CPU goes. Run by issuance.py as

    python bench/_inprocess.py _inprocess LABEL SERVICE_S BUILDER_S CSR_FILE PROFILE(0|1)

with the bench environment and BENCH_TOKEN set; it prints its figures as JSON.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from _server import ROOT, django_setup
from issuance import ALGORITHMS, PATH, PROFILE


def measure_in_process(
    label: str, service_seconds: float, builder_seconds: float, csr_file: str, profile: bool
) -> dict[str, Any]:
    """The service path alone (issue(), one thread) and the bare builder, for one algorithm."""
    django_setup()
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
    ("    idempotency claim", "pki/services/issuance.py", "claim"),
    ("    sign (_signed: build, sign, store row)", "pki/services/issuance.py", "_signed"),
    ("    OCSP pre-signing", "pki/services/ocsp.py", "presign_issued"),
    ("    audit events (record_many)", "audit/services.py", "record_many"),
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


def _entry() -> None:
    if len(sys.argv) != 7 or sys.argv[1] != "_inprocess":
        sys.exit(f"usage: {sys.argv[0]} _inprocess LABEL SERVICE_S BUILDER_S CSR_FILE PROFILE")
    label, service_s, builder_s, csr_file, profile = sys.argv[2:7]
    result = measure_in_process(label, float(service_s), float(builder_s), csr_file, profile == "1")
    print(json.dumps(result))


if __name__ == "__main__":
    _entry()
