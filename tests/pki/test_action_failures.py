"""An approved action that fails leaves its subject saying so, with nothing half done."""

from __future__ import annotations

from accounts.roles import Role
from approvals import services as approvals
from approvals.models import ApprovalRequest
from approvals.tasks import run_action
from pki.models import Ceremony, CertificateAuthority, CertificateRequest, IssuedCertificate
from pki.services import ceremonies, profiles, requests
from tests.pki.helpers import TLS_SERVER


def test_a_request_the_profile_no_longer_allows_fails_visibly(pki, domain, make_user, make_csr):
    _, issuing = pki
    officer = make_user("rita", Role.RA_OFFICER, domain)
    operator = make_user("olga", Role.OPERATOR, domain)
    request = requests.submit(domain, "tls-server", make_csr("www.alpha.test"), officer)
    # The rules tighten while the request waits.
    profiles.save_profile(domain, "tls-server", {**TLS_SERVER, "dns_suffixes": ["x.test"]}, issuing)
    assert request.approval is not None
    approvals.approve(request.approval.pk, operator)

    assert run_action(request.approval.pk) == "failed"

    request.refresh_from_db()
    assert request.state == CertificateRequest.State.FAILED
    assert "outside the allowed suffixes" in request.failure
    assert request.approval is not None
    assert request.approval.action_state == ApprovalRequest.ActionState.FAILED
    assert not IssuedCertificate.objects.exists()


def test_a_ceremony_whose_parent_was_retired_fails_visibly(pki, domain, make_user):
    root, _ = pki
    operator = make_user("olga", Role.OPERATOR, domain)
    custodian = make_user("cora", Role.CUSTODIAN, domain)
    ceremony = ceremonies.start(
        domain,
        "create_intermediate",
        purpose="second issuing CA",
        threshold=1,
        custodians=[custodian],
        started_by=operator,
        params={"slug": "alpha-issuing-2", "parent": root.slug},
    )
    CertificateAuthority.objects.filter(pk=root.pk).update(
        status=CertificateAuthority.Status.RETIRED
    )
    ceremonies.approve(ceremony, custodian)

    assert run_action(ceremony.approval_id) == "failed"

    ceremony.refresh_from_db()
    assert ceremony.state == Ceremony.State.FAILED
    assert "retired" in ceremony.result["error"]
    assert not CertificateAuthority.objects.filter(slug="alpha-issuing-2").exists()
