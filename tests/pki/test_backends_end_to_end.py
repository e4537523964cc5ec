"""A hierarchy per key backend (software, SoftHSM2, KMS on moto), made through ceremonies,
issuing through the one path; every leaf verifies with `openssl verify`."""

from __future__ import annotations

import pytest

from accounts.roles import Role
from pki.crypto import backends
from pki.services import profiles
from pki.services.issuance import IssueRequest, issue
from tests.pki.crypto.conftest import (
    SOFTHSM_MODULE,
    SOFTHSM_PIN,
    SOFTHSM_TOKEN,
    moto_server,  # noqa: F401
    softhsm_backend,  # noqa: F401
)
from tests.pki.crypto.conftest_aws import CREDENTIALS, REGION
from tests.pki.helpers import TLS_SERVER, assert_verifies, ceremony_ca


@pytest.fixture
def key_backends(settings, softhsm_backend, moto_server):  # noqa: F811
    settings.ANCHORAGE_KEY_BACKENDS = {
        **settings.ANCHORAGE_KEY_BACKENDS,
        "hsm": {
            "BACKEND": "pki.crypto.backends.pkcs11.Pkcs11Backend",
            "OPTIONS": {"module": SOFTHSM_MODULE, "token": SOFTHSM_TOKEN, "pin": SOFTHSM_PIN},
        },
        "kms": {
            "BACKEND": "pki.crypto.backends.awskms.KmsBackend",
            "OPTIONS": {
                "region": REGION,
                "endpoint_url": moto_server,
                "message_type": "RAW",
                **CREDENTIALS,
            },
        },
    }
    backends.reset()
    yield
    backends.reset()


@pytest.mark.parametrize(
    ("alias", "algorithm"),
    [
        ("default", "ec-p256"),
        ("hsm", "ec-p256"),
        ("hsm", "rsa-2048"),
        ("kms", "ec-p384"),
        ("kms", "rsa-3072"),
    ],
)
def test_chain_from_each_backend_verifies(
    key_backends, alias, algorithm, domain, make_user, make_csr, tmp_path
):
    operator = make_user("olga", Role.OPERATOR, domain)
    custodian = make_user("cora", Role.CUSTODIAN, domain)
    key = {"key_backend": alias, "algorithm": algorithm}
    root = ceremony_ca(
        domain,
        operator,
        custodian,
        "create_root",
        {"slug": f"r-{alias}", "name": f"Root {alias}", "path_length": 1, **key},
    )
    issuing = ceremony_ca(
        domain,
        operator,
        custodian,
        "create_intermediate",
        {"slug": f"i-{alias}", "name": f"Issuing {alias}", "parent": root.slug, **key},
    )
    assert issuing.key_backend == alias and issuing.key_algorithm == algorithm
    profiles.save_profile(domain, "tls-server", TLS_SERVER, issuing)

    issued = issue(
        IssueRequest(
            domain=domain,
            profile="tls-server",
            protocol="api",
            user=operator,
            csr=make_csr("www.alpha.test"),
        )
    )

    assert_verifies(
        tmp_path,
        trusted=[bytes(root.certificate)],
        untrusted=issued.chain,
        target=bytes(issued.certificate.der),
        extra=("-x509_strict",),
    )
