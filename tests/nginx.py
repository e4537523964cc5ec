"""Debian's nginx for tests (bin/setup-system installs it): a prefix of its own under the
test's tmp_path, the main configuration around the test's server blocks, checked with -t,
started, and stopped when the test ends."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

MAIN = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
{servers}
}}
"""


@contextmanager
def running(prefix: Path, servers: str) -> Iterator[list[str]]:
    """nginx with `servers` (server blocks, or an include) in its http block, running under
    `prefix`; yields the command line to add arguments to (e.g. "-s", "reload")."""
    if not Path(NGINX).exists():
        pytest.fail(f"no nginx at {NGINX}: run bin/setup-system as root")
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(MAIN.format(prefix=prefix, servers=servers))
    command = [NGINX, "-p", str(prefix), "-c", str(conf), "-e", "error.log"]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    subprocess.run(command, check=True, capture_output=True, timeout=30)
    try:
        yield command
    finally:
        subprocess.run([*command, "-s", "stop"], capture_output=True, timeout=30, check=False)
