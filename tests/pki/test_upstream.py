"""An upstream CA (AWS Private CA on a real moto_server) behind the same issuance path."""

from __future__ import annotations

import pytest

from accounts.roles import Role
from approvals.tasks import run_action
from pki.models import CertificateAuthority
from pki.services import ceremonies, profiles
from pki.services.issuance import IssueRequest, issue
from tests.pki.crypto.conftest_aws import moto_server  # noqa: F401
from tests.pki.crypto.test_awspca import make_root_ca
from tests.pki.helpers import TLS_SERVER, assert_verifies


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_upstream_ca_issues_through_the_one_path(
    moto_server,  # noqa: F811 (the fixture imported above)
    aws_env,
    domain,
    make_user,
    make_csr,
    tmp_path,
):
    arn = make_root_ca(moto_server)
    operator = make_user("olga", Role.OPERATOR, domain)
    custodian = make_user("cora", Role.CUSTODIAN, domain)
    upstream = {"arn": arn, "region": "us-east-1", "endpoint_url": moto_server}
    ceremony = ceremonies.start(
        domain,
        "import",
        purpose="use the AWS Private CA",
        threshold=1,
        custodians=[custodian],
        started_by=operator,
        params={"slug": "aws-pca", "name": "AWS PCA", "upstream": upstream},
    )
    ceremonies.approve(ceremony, custodian)
    run_action(ceremony.approval_id)
    ca = CertificateAuthority.objects.get(slug="aws-pca")
    assert ca.kind == CertificateAuthority.Kind.UPSTREAM and not ca.key_ref
    profiles.save_profile(domain, "tls-server", TLS_SERVER, ca)

    issued = issue(
        IssueRequest(
            domain=domain,
            profile="tls-server",
            protocol="api",
            user=operator,
            csr=make_csr("up.alpha.test"),
        )
    )

    assert issued.certificate.ca == ca
    assert_verifies(tmp_path, trusted=[bytes(ca.certificate)], target=bytes(issued.certificate.der))


def test_upstream_credentials_are_refused_in_params(domain, make_user):
    from django.core.exceptions import ValidationError

    operator = make_user("olga", Role.OPERATOR, domain)
    custodian = make_user("cora", Role.CUSTODIAN, domain)
    with pytest.raises(ValidationError, match="credentials come from the environment"):
        ceremonies.start(
            domain,
            "import",
            purpose="x",
            threshold=1,
            custodians=[custodian],
            started_by=operator,
            params={
                "slug": "aws",
                "upstream": {"arn": "a", "region": "r", "secret_access_key": "s"},
            },
        )
