"""The RA split in a real browser: an RA officer pastes a CSR and can only request; an operator
approves it from the queue, the approval's action issues it, and the operator finds the
certificate on the certificates page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.roles import Role
from approvals.models import ApprovalRequest
from approvals.tasks import run_action
from pki.models import CertificateRequest, Domain, IssuedCertificate
from tests.browser.conftest import PageLog
from tests.browser.test_login import log_in, path_of
from tests.conftest import MakeUser
from tests.pki import conftest as pki_fixtures
from tests.pki.conftest import MakeCsr

# The local PKI (root, issuing CA, tls-server for *.alpha.test) and CSRs of tests/pki.
pki = pki_fixtures.pki
make_csr = pki_fixtures.make_csr

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ra_officer_requests_and_an_operator_approves_into_a_certificate(
    page: Page,
    page_log: PageLog,
    browser: Browser,
    live_server: Any,
    make_user: MakeUser,
    domain: Domain,
    pki: Any,
    make_csr: MakeCsr,
) -> None:
    make_user("rachel", Role.RA_OFFICER, domain)
    make_user("olga", Role.OPERATOR, domain)
    csr = make_csr("app.alpha.test").decode()

    # The RA officer requests a certificate by pasting a CSR; there is no way to issue.
    log_in(page, live_server.url, "rachel", "pw-rachel")
    page.get_by_role("link", name="Certificates").click()
    page.get_by_role("link", name="Request a certificate").click()
    expect(page.get_by_role("button", name="Request (needs approval)")).to_be_visible()
    expect(page.get_by_role("button", name="Issue now")).to_have_count(0)
    page.get_by_label("Domain / profile").select_option(label="alpha / tls-server")
    page.get_by_label("Paste the CSR (PEM)").fill(csr)
    page.get_by_label("Comment").fill("for the app servers")
    page.get_by_role("button", name="Request (needs approval)").click()

    request = CertificateRequest.objects.get()
    assert request.approval is not None
    approval_id = request.approval.pk
    assert path_of(page) == f"/approvals/{approval_id}/"
    expect(page.locator(".messages")).to_contain_text("waits for approval")
    expect(page.get_by_test_id("state")).to_have_text("pending")
    expect(page.get_by_test_id("why-not")).to_contain_text("someone else must decide it")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    page.get_by_role("link", name="Certificates").click()
    mine = page.get_by_test_id("my-requests")
    expect(mine).to_contain_text("CN=app.alpha.test")
    expect(mine).to_contain_text("pending")
    expect(page.get_by_role("button", name="Issue now")).to_have_count(0)
    expect(page.get_by_text("No certificate yet.")).to_be_visible()

    # The operator, in a browser context of their own, approves it from the queue.
    context = browser.new_context()
    other = context.new_page()
    try:
        log_in(other, live_server.url, "olga", "pw-olga")
        other.get_by_role("link", name="Approvals").click()
        other.get_by_role("link", name=f"#{approval_id}").click()
        other.get_by_label("Comment").fill("the app team asked for it")
        other.get_by_role("button", name="Approve").click()
        expect(other.get_by_test_id("state")).to_have_text("approved")

        # The approval's Celery action (the test broker is memory://, so run it here).
        assert run_action(approval_id) == "done"

        cert = IssuedCertificate.objects.get()
        other.get_by_role("link", name="Certificates").click()
        table = other.get_by_test_id("certificates")
        expect(table).to_contain_text("CN=app.alpha.test")
        other.get_by_role("link", name=cert.serial[:10]).click()
        assert path_of(other) == f"/certificates/{cert.serial}/"
        expect(other.get_by_test_id("serial")).to_have_text(cert.serial)
        expect(other.get_by_test_id("status")).to_have_text("valid")
        expect(other.get_by_test_id("pem")).to_contain_text("-----BEGIN CERTIFICATE-----")
        expect(other.get_by_text("rachel (request")).to_be_visible()
    finally:
        context.close()

    request.refresh_from_db()
    assert request.state == CertificateRequest.State.ISSUED
    assert request.certificate == cert
    assert ApprovalRequest.objects.get(pk=approval_id).action_state == "done"
    assert cert.requester == "user:olga"  # issued as the approver, never as the officer

    # The officer now sees the request issued.
    page.reload()
    expect(page.get_by_test_id("my-requests")).to_contain_text("issued")
    assert page_log.errors() == []
