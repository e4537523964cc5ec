"""A CA whose key is in SoftHSM2 (PKCS#11) signs its delegated OCSP responder through the
backend like any certificate; `openssl ocsp` gets `good`, then `revoked`, and verifies both
up to the root."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accounts.roles import Role
from pki.crypto import backends
from pki.models import OcspResponder, Reason
from pki.services import ocsp, ocsp_respond, profiles
from pki.services.revocation import revoke
from tests.pki.crypto.conftest import (
    SOFTHSM_MODULE,
    SOFTHSM_PIN,
    SOFTHSM_TOKEN,
    softhsm_backend,  # noqa: F401
)
from tests.pki.helpers import TLS_SERVER, ceremony_ca
from tests.pki.ocsp_helpers import issue_leaf, openssl_ocsp

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hsm(settings, softhsm_backend) -> Iterator[None]:  # noqa: F811
    settings.ANCHORAGE_KEY_BACKENDS = {
        **settings.ANCHORAGE_KEY_BACKENDS,
        "hsm": {
            "BACKEND": "pki.crypto.backends.pkcs11.Pkcs11Backend",
            "OPTIONS": {"module": SOFTHSM_MODULE, "token": SOFTHSM_TOKEN, "pin": SOFTHSM_PIN},
        },
    }
    backends.reset()
    ocsp.forget()
    ocsp_respond.forget()
    yield
    backends.reset()


@pytest.mark.parametrize("algorithm", ["ec-p256", "rsa-2048"])
def test_softhsm_ca_answers_good_and_revoked(
    hsm, live_server, algorithm, domain, make_user, make_csr, tmp_path
):
    operator = make_user("olga", Role.OPERATOR, domain)
    custodian = make_user("cora", Role.CUSTODIAN, domain)
    key = {"key_backend": "hsm", "algorithm": algorithm}
    root = ceremony_ca(
        domain, operator, custodian, "create_root",
        {"slug": "r-hsm", "name": "Root HSM", "path_length": 1, **key},
    )  # fmt: skip
    issuing = ceremony_ca(
        domain, operator, custodian, "create_intermediate",
        {"slug": "i-hsm", "name": "Issuing HSM", "parent": root.slug, **key},
    )  # fmt: skip
    profiles.save_profile(domain, "tls-server", TLS_SERVER, issuing)
    leaf = issue_leaf(domain, root, issuing, operator, make_csr, tmp_path)
    # The responder's key is ours (software); its certificate was signed in the HSM.
    assert OcspResponder.objects.get(ca=issuing).key_ref.startswith("sealed:")
    url = f"{live_server.url}/ocsp/{issuing.slug}/"

    result = openssl_ocsp(leaf, url)
    assert result.status == "good" and result.verified, result.stdout + result.stderr

    revoke(leaf.cert, Reason.SUPERSEDED, actor=operator)
    result = openssl_ocsp(leaf, url, "-no_nonce")
    assert result.status == "revoked" and result.verified, result.stdout + result.stderr
    assert "Reason: superseded" in result.stdout
