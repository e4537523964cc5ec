"""A real moto_server process on 127.0.0.1 for the KMS and Private CA tests.

No in-process mocks: the backends talk HTTP to a separate process, with dummy credentials
passed explicitly (nothing read from ~/.aws).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pki.crypto.backends.awskms import KmsBackend
from tests.net import free_port

CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing"}
REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    executable = Path(sys.executable).with_name("moto_server")
    if not executable.exists():
        pytest.skip(f"moto_server not installed next to {sys.executable}")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("moto") / "moto_server.log").open("wb")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    process = subprocess.Popen(
        [str(executable), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"moto_server exited with {process.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not answer on {endpoint}; see {log.name}")
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def kms_backend(moto_server: str) -> KmsBackend:
    # moto 5.x ignores MessageType=DIGEST on Sign (it hashes the digest again), so against
    # moto the backend sends RAW messages; DIGEST, the production default, is checked in
    # test_awskms_backend.test_digest_mode_sends_the_local_digest.
    return KmsBackend(
        alias="kms", endpoint_url=moto_server, region=REGION, message_type="RAW", **CREDENTIALS
    )
