"""The benchmark-only setting that skips challenge checks is refused in production; the
validation settings parse as documented."""

from __future__ import annotations

import json
from pathlib import Path

from tests.config.conftest import Run, production_env, run  # noqa: F401 (the fixture)

SHOW = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({"skip": settings.ANCHORAGE_ACME_BENCH_SKIP_VALIDATION,
                  "resolve": settings.ANCHORAGE_ACME_RESOLVE,
                  "http": settings.ANCHORAGE_ACME_HTTP01_PORT,
                  "alpn": settings.ANCHORAGE_ACME_TLSALPN01_PORT}))
"""


def test_production_refuses_the_bench_skip(run: Run, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    monkeypatch.delenv("ANCHORAGE_ACME_BENCH_SKIP_VALIDATION", raising=False)
    env = {**production_env(tmp_path), "ANCHORAGE_ACME_BENCH_SKIP_VALIDATION": "1"}
    child = run("-c", SHOW, env=env)
    assert child.returncode != 0
    assert "ANCHORAGE_ACME_BENCH_SKIP_VALIDATION is refused in production" in child.stderr
    allowed = run("-c", SHOW, env={"ANCHORAGE_ACME_BENCH_SKIP_VALIDATION": "1"})
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout.splitlines()[-1])["skip"] is True


def test_validation_settings(run: Run, monkeypatch) -> None:  # noqa: F811
    for name in ("RESOLVE", "HTTP01_PORT", "TLSALPN01_PORT", "BENCH_SKIP_VALIDATION"):
        monkeypatch.delenv(f"ANCHORAGE_ACME_{name}", raising=False)
    defaults = json.loads(run("-c", SHOW).stdout.splitlines()[-1])
    assert defaults == {"skip": False, "resolve": {}, "http": 80, "alpn": 443}
    env = {
        "ANCHORAGE_ACME_RESOLVE": "demo.test=127.0.0.1, Other.Test.=10.0.0.5",
        "ANCHORAGE_ACME_HTTP01_PORT": "5002",
        "ANCHORAGE_ACME_TLSALPN01_PORT": "5001",
    }
    got = json.loads(run("-c", SHOW, env=env).stdout.splitlines()[-1])
    assert got == {
        "skip": False,
        "resolve": {"demo.test": "127.0.0.1", "other.test": "10.0.0.5"},
        "http": 5002,
        "alpn": 5001,
    }
