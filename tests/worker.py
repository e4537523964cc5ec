"""A real Celery worker process for tests, against the test database.

The worker is `celery -A config worker` on a queue of its own, with the broker the suite
runs against: Redis when REDIS_URL is set, else kombu's filesystem transport in a temporary
folder. The in-process Celery app sends to memory:// (tests/conftest.py), so tests send
tasks to it over an explicit connection to that broker: `worker.send(task, *args)`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from kombu import Exchange, Queue

from config.celery import app as celery_app

REPO = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The *test* database, as DATABASE_URL for the worker's settings."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    assert db["ENGINE"] == "django.db.backends.postgresql", db["ENGINE"]
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


def wait_for(condition: Callable[[], object], what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}; worker log:\n{log.read_text()[-5000:]}")


@pytest.fixture(scope="module")
def worker(django_db_setup, tmp_path_factory) -> Iterator[SimpleNamespace]:
    tmp = tmp_path_factory.mktemp("celery-worker")
    queue = f"anchorage-test-{uuid.uuid4().hex[:12]}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url(),
        ANCHORAGE_DATA_DIR=str(tmp),
        SECRET_KEY=settings.SECRET_KEY,
        ANCHORAGE_KEK=settings.ANCHORAGE_KEK,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    if os.environ.get("REDIS_URL"):
        broker_url = env["CELERY_BROKER_URL"] = os.environ["REDIS_URL"]
        transport_options: dict[str, object] = {}
    else:
        # What config.settings sets up for the worker under its ANCHORAGE_DATA_DIR; kombu's
        # control folder is relative to the working directory, which is `tmp` for both.
        broker_url = "filesystem://localhost/"
        for sub in ("in", "processed"):
            (tmp / "broker" / sub).mkdir(parents=True, exist_ok=True)
        transport_options = {
            "data_folder_in": str(tmp / "broker" / "in"),
            "data_folder_out": str(tmp / "broker" / "in"),
            "processed_folder": str(tmp / "broker" / "processed"),
            "store_processed": False,
            "control_folder": str(tmp / "control"),
        }

    log = tmp / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-P",
                "solo",
                "-Q",
                queue,
                "-n",
                f"{queue}@%h",
                # The worker must know the test approval kinds, as the test process does.
                "-I",
                "tests.approvals.testkind",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "-l",
                "info",
            ],
            cwd=tmp,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    conn = celery_app.connection_for_write(broker_url, transport_options=transport_options)
    try:
        wait_for(
            lambda: process.poll() is not None or " ready." in log.read_text(),
            "the worker to start",
            log,
        )
        assert process.poll() is None, f"the worker exited:\n{log.read_text()}"

        def send(task: Any, *args: object) -> Any:
            # An explicit connection: the in-process app's own broker is memory://.
            options: dict[str, Any] = {"queue": queue, "connection": conn}
            return task.apply_async(args, **options)

        yield SimpleNamespace(send=send, log=log)
    finally:
        process.terminate()
        with contextlib.suppress(Exception):  # tidy the broker: our queue and its binding
            Queue(queue, Exchange(queue), routing_key=queue)(conn.default_channel).delete()
        conn.release()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
