"""CRLs signed by CA keys in SoftHSM2 and in KMS (moto): openssl accepts a leaf before its
revocation and refuses it after, with the CRL the CA's own backend signed."""

from __future__ import annotations

import pytest

from accounts.roles import Role
from pki.crypto import crl
from pki.crypto.pkcs import pem
from pki.services import crls, profiles, revocation
from pki.services.issuance import IssueRequest, issue
from tests.pki.helpers import TLS_SERVER, ceremony_ca, openssl_verify
from tests.pki.test_backends_end_to_end import (  # noqa: F401 (fixtures)
    key_backends,
    moto_server,
    softhsm_backend,
)

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("key_backends")
@pytest.mark.parametrize(("alias", "algorithm"), [("hsm", "ec-p256"), ("kms", "ec-p384")])
def test_a_crl_signed_in_the_backend_revokes_for_openssl(
    alias, algorithm, domain, make_user, make_csr, tmp_path
):
    operator = make_user("olga", Role.OPERATOR, domain)
    custodian = make_user("cora", Role.CUSTODIAN, domain)
    key = {"key_backend": alias, "algorithm": algorithm}
    root = ceremony_ca(
        domain, operator, custodian, "create_root", {"slug": f"r-{alias}", "path_length": 1, **key}
    )
    issuing = ceremony_ca(
        domain,
        operator,
        custodian,
        "create_intermediate",
        {"slug": f"i-{alias}", "parent": root.slug, **key},
    )
    profiles.save_profile(domain, "tls-server", TLS_SERVER, issuing)
    request = IssueRequest(
        domain=domain, profile="tls-server", protocol="api", user=operator, csr=make_csr()
    )
    cert = issue(request).certificate

    def check(crl_der: bytes):
        path = tmp_path / f"{crl.info(crl_der).number}.crl.pem"
        path.write_text(pem("X509 CRL", crl_der))
        return openssl_verify(
            tmp_path,
            trusted=[bytes(root.certificate)],
            untrusted=[bytes(issuing.certificate)],
            target=bytes(cert.der),
            extra=("-crl_check", "-CRLfile", str(path)),
        )

    before = check(bytes(crls.generate(issuing, delta=False).der))
    assert before.returncode == 0, before.stdout + before.stderr
    revocation.revoke(cert, "keyCompromise", actor=operator)
    after = check(bytes(crls.generate(issuing, delta=False).der))
    assert after.returncode != 0
    assert "certificate revoked" in after.stdout + after.stderr
