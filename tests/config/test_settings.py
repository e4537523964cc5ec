"""Settings from the environment: production needs its secrets, development makes them."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

from tests.config.conftest import SHOW_SETTINGS, Run, production_env


def settings_of(run: Run, env: dict[str, str] | None = None) -> dict[str, object]:
    child = run("-c", SHOW_SETTINGS, env=env)
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.strip().splitlines()[-1])


def test_check_deploy_is_clean_in_production(run: Run, tmp_path: Path) -> None:
    child = run(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path)
    )
    assert child.returncode == 0, child.stdout + child.stderr
    assert "no issues" in child.stdout


def test_check_deploy_does_complain_about_a_weak_secret_key(run: Run, tmp_path: Path) -> None:
    # The check above means something: the same command fails on a poor setting.
    env = {**production_env(tmp_path), "SECRET_KEY": "short"}
    child = run("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)
    assert child.returncode != 0
    assert "security.W009" in child.stderr + child.stdout


def test_production_without_secret_key_fails_naming_it(run: Run, tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["SECRET_KEY"]

    child = run("manage.py", "check", env=env)

    assert child.returncode != 0
    assert "ImproperlyConfigured" in child.stderr
    assert "SECRET_KEY must be set" in child.stderr
    assert not (tmp_path / "secret_key").exists(), "production must not invent a secret"


def test_production_without_kek_fails_naming_it(run: Run, tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["ANCHORAGE_KEK"]

    child = run("manage.py", "check", env=env)

    assert child.returncode != 0
    assert "ImproperlyConfigured" in child.stderr
    assert "ANCHORAGE_KEK must be set" in child.stderr
    assert not (tmp_path / "kek").exists()


def test_development_generates_secrets_once_with_0600(run: Run, tmp_path: Path) -> None:
    data = tmp_path / "data"

    first = settings_of(run)
    second = settings_of(run)

    assert first["PRODUCTION"] is False
    assert first["DATA_DIR"] == str(data)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["ANCHORAGE_KEK"] == second["ANCHORAGE_KEK"]
    assert first["SECRET_KEY"] != first["ANCHORAGE_KEK"]
    assert len(str(first["SECRET_KEY"])) >= 50
    assert len(base64.urlsafe_b64decode(str(first["ANCHORAGE_KEK"]))) == 32
    for name, setting in (("secret_key", "SECRET_KEY"), ("kek", "ANCHORAGE_KEK")):
        path = data / name
        assert path.read_text().strip() == first[setting]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} is readable by others"

    # Another data directory, other secrets.
    other = settings_of(run, {"ANCHORAGE_DATA_DIR": str(tmp_path / "elsewhere")})
    assert other["SECRET_KEY"] != first["SECRET_KEY"]


def test_environment_secrets_win_over_generated_ones(run: Run) -> None:
    generated = settings_of(run)
    given = settings_of(run, {"SECRET_KEY": "k" * 60, "ANCHORAGE_KEK": "x" * 43})
    assert given["SECRET_KEY"] == "k" * 60
    assert given["ANCHORAGE_KEK"] == "x" * 43
    assert settings_of(run)["SECRET_KEY"] == generated["SECRET_KEY"]


def test_debug_is_off_unless_asked(run: Run, tmp_path: Path) -> None:
    assert settings_of(run)["DEBUG"] is False
    assert settings_of(run, production_env(tmp_path))["DEBUG"] is False
    assert settings_of(run, {"DEBUG": "0"})["DEBUG"] is False
    assert settings_of(run, {"DEBUG": "1"})["DEBUG"] is True
