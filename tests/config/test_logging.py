"""ANCHORAGE_LOG_FORMAT=json: one JSON object per log line."""

from __future__ import annotations

import json
import logging
import sys

from config.logging import JsonFormatter
from tests.config.conftest import Run


def make_record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("anchorage.test", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_json_formatter_writes_one_object() -> None:
    line = JsonFormatter().format(make_record("hello %s: %r", "world", {"a": 1}))

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "anchorage.test"
    assert entry["message"] == "hello world: {'a': 1}"
    assert entry["time"].endswith("+00:00")


def test_json_formatter_keeps_exceptions_on_one_line() -> None:
    line = JsonFormatter().format(make_record('quote " and\nnewline', exc=True))

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == 'quote " and\nnewline'
    assert "ValueError: boom" in entry["exception"]


LOG_SOMETHING = """
import django, logging
django.setup()
logging.getLogger("anchorage.test").warning("hello %s", "json")
"""


def test_log_format_json_makes_log_lines_json(run: Run) -> None:
    child = run("-c", LOG_SOMETHING, env={"ANCHORAGE_LOG_FORMAT": "json"})
    assert child.returncode == 0, child.stderr
    lines = [line for line in child.stderr.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    entries = [json.loads(line) for line in lines]
    assert {"level": "WARNING", "logger": "anchorage.test", "message": "hello json"}.items() <= (
        entries[-1].items()
    )


def test_default_log_format_is_text(run: Run) -> None:
    child = run("-c", LOG_SOMETHING)
    assert child.returncode == 0, child.stderr
    assert "WARNING anchorage.test hello json" in child.stderr
