"""Key backend fixtures. PKCS#11: softhsm_backend, a fresh SoftHSM2 token for the test run."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from pki.crypto.backends.pkcs11 import Pkcs11Backend
from tests.pki.crypto.conftest_aws import kms_backend, moto_server  # noqa: F401

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SOFTHSM_TOKEN = "anchorage-test"
SOFTHSM_PIN = "1234"


@pytest.fixture(scope="session")
def softhsm_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pkcs11Backend]:
    """A Pkcs11Backend on a token made for this run, in its own SOFTHSM2_CONF token dir."""
    util = shutil.which("softhsm2-util")
    if util is None or not os.path.exists(SOFTHSM_MODULE):
        pytest.fail(
            f"SoftHSM2 is not installed (softhsm2-util, {SOFTHSM_MODULE}): run bin/setup-system",
            pytrace=False,
        )
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))  # read by the module at C_Initialize
        init = [util, "--init-token", "--free", "--label", SOFTHSM_TOKEN, "--pin", SOFTHSM_PIN]
        done = subprocess.run([*init, "--so-pin", "5678"], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"softhsm2-util --init-token failed: {done.stderr}", pytrace=False)
        yield Pkcs11Backend(
            alias="hsm", module=SOFTHSM_MODULE, token=SOFTHSM_TOKEN, pin=SOFTHSM_PIN
        )
