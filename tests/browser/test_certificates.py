"""Certificates in a real browser: an operator filters the list, opens a certificate, reads
its decoded fields and history, downloads the DER, and revokes it with a reason; openssl
reads the download, and an approver of the domain sees no revoke form."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.roles import Role
from pki.models import Domain, IssuedCertificate
from pki.services.issuance import IssueRequest, issue
from tests.browser.conftest import PageLog
from tests.browser.test_login import log_in
from tests.conftest import MakeUser
from tests.pki import conftest as pki_fixtures
from tests.pki.conftest import MakeCsr

pki = pki_fixtures.pki
make_csr = pki_fixtures.make_csr

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_filter_inspect_download_and_revoke(
    page: Page,
    page_log: PageLog,
    browser: Browser,
    live_server: Any,
    make_user: MakeUser,
    domain: Domain,
    pki: Any,
    make_csr: MakeCsr,
    tmp_path: Path,
) -> None:
    olga = make_user("olga", Role.OPERATOR, domain)
    make_user("alex", Role.APPROVER, domain)
    for cn in ("api.alpha.test", "www.alpha.test"):
        issue(IssueRequest(domain, "tls-server", make_csr(cn), "api", user=olga))
    target = IssuedCertificate.objects.get(sans__icontains="api.alpha.test")

    log_in(page, live_server.url, "olga", "pw-olga")
    page.get_by_role("link", name="Certificates").click()
    rows = page.get_by_test_id("certificates").locator("tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Subject or SAN contains").fill("api.alpha")
    page.get_by_label("Status").select_option("valid")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link").click()
    expect(page.get_by_test_id("subject")).to_have_text("CN=api.alpha.test")
    expect(page.get_by_test_id("trail")).to_contain_text("ca.issue")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download DER").click()
    der = tmp_path / "cert.der"
    download.value.save_as(der)
    text = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-in", str(der), "-noout", "-subject"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "api.alpha.test" in text

    form = page.get_by_test_id("revoke-form")
    form.get_by_label("Reason (RFC 5280)").select_option("superseded")
    form.get_by_test_id("revoke").click()
    expect(page.get_by_test_id("status")).to_have_text("revoked")
    expect(page.get_by_test_id("revocation")).to_contain_text("superseded")
    expect(page.get_by_test_id("trail")).to_contain_text("ca.certificate.revoked")
    target.refresh_from_db()
    assert target.status == "revoked"

    page.get_by_role("link", name="Certificates").click()
    page.get_by_label("Status").select_option("revoked")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(target.serial[:16])
    assert page_log.errors() == []

    context = browser.new_context()
    other = context.new_page()
    log_in(other, live_server.url, "alex", "pw-alex")
    other.goto(f"{live_server.url}/certificates/{target.serial}/")
    expect(other.get_by_test_id("subject")).to_have_text("CN=api.alpha.test")
    expect(other.get_by_test_id("revoke-form")).to_have_count(0)
    context.close()
