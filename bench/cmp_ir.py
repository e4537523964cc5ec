"""CMP `ir` transactions per second (MAC-protected PasswordBasedMac with hmacWithSHA256,
implicitConfirm, one fresh P-256 key and template per transaction, built with
pki.crypto.cmp.client) beside the REST API's issuance (POST /api/v1/certificates) measured
in the same run. Two figures:

- in process (default): both through Django's test client in one process on the configured
  database (no HTTP server: the difference is what CMP adds on the same issuance path);

      DATABASE_URL=... ANCHORAGE_DATA_DIR=... .venv/bin/python bench/cmp_ir.py [--seconds S]

- over HTTP (--http): gunicorn config.wsgi (ANCHORAGE_ENV=production) on every core, with
  bench/est_enroll.py's harness (bench/_server.py: bench database, quiet machine, CPU per
  process group; bench/issuance.py's API window and fixtures). The ir messages are made
  before the window (each is used once: a replayed nonce is refused) and POSTed by
  `connections` client threads in a process of their own; the figure counts certificates
  the database gained in the window.

      .venv/bin/python bench/cmp_ir.py --http [--quick] [--seconds S] [--connections N]

A benchmark, not a test: it reports figures and asserts no times. It makes (and reuses) a
domain `bench-cmp` with a local P-256 PKI, the default profiles and a CMP secret.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, help="window per figure (default 10)")
    parser.add_argument("--http", action="store_true", help="under gunicorn, over HTTP")
    parser.add_argument("--quick", action="store_true", help="--http: short windows")
    parser.add_argument("--connections", type=int, default=8, help="--http: client threads")
    parser.add_argument("--workers", type=int, help="--http: gunicorn sync workers")
    parser.add_argument("--messages", type=int, help="--http: ir messages made (default 5000)")
    args = parser.parse_args()
    if args.http:
        from _cmp_http import over_http

        over_http(args)
        return
    args.seconds = args.seconds or 10.0
    import django

    django.setup()
    from cryptography.hazmat.primitives.asymmetric import ec
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    from accounts.roles import Role, grant_role
    from enrollment.cmp import services
    from pki.crypto.cmp import client
    from pki.crypto.csr import new_key_and_csr
    from pki.crypto.keys import KeyAlgorithm
    from pki.crypto.pkcs import pem as certs_pem
    from pki.models import Domain, Protocol
    from pki.services.default_profiles import ensure_default_profiles
    from pki.services.domains import create_domain
    from pki.services.hierarchy import create_local_pki

    domain = Domain.objects.filter(slug="bench-cmp").first()
    if domain is None:
        domain = create_domain("bench-cmp", "Bench CMP", protocols=list(Protocol.values))
        _, issuing = create_local_pki(domain, KeyAlgorithm.EC_P256)
        ensure_default_profiles(domain, issuing, ["bench.test"])
    reference = f"bench-{uuid.uuid4().hex[:8]}"  # earlier runs' transactions keep theirs
    _, secret = services.create_secret(domain, None, reference=reference)
    user, _ = User.objects.get_or_create(username="bench-cmp-operator")
    grant_role(user, Role.OPERATOR, domain)
    api = APIClient(HTTP_HOST="localhost")
    api.force_authenticate(user)
    from django.test import Client

    web = Client(HTTP_HOST="localhost")

    def cmp_once(i: int) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        s = client.Session(
            reference=reference.encode(), secret=secret.encode(), implicit_confirm=True
        )
        body = client.message(s, "ir", client.cert_request(key, f"CN=c{i}.bench.test"))
        answer = client.read(
            web.post(
                "/.well-known/cmp/p/bench-cmp", body, content_type="application/pkixcmp"
            ).content
        )
        assert answer.body_type == "ip", answer.text

    def api_once(i: int) -> None:
        made = new_key_and_csr(KeyAlgorithm.EC_P256, f"a{i}.bench.test", [f"a{i}.bench.test"], [])
        pem = certs_pem("CERTIFICATE REQUEST", made.csr_der)
        response = api.post(
            "/api/v1/certificates",
            {"domain": "bench-cmp", "profile": "tls-server", "csr": pem},
            format="json",
        )
        assert response.status_code == 201, response.content

    results = {}
    for name, once in (
        ("REST API issuance", api_once),
        ("CMP ir (PBM, implicitConfirm)", cmp_once),
    ):
        once(-1)  # warm up: protection key, profile caches, connections
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            once(count)
            count += 1
        results[name] = count / (time.perf_counter() - start)
    for name, rate in results.items():
        print(f"{name:<32} {rate:7.1f} /s  (one thread, in process)")
    ratio = results["CMP ir (PBM, implicitConfirm)"] / results["REST API issuance"]
    print(f"CMP ir / API issuance: {ratio:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("_setup", "_load"):
        from _cmp_http import child

        child(sys.argv[1], sys.argv[2:])
    else:
        main()
