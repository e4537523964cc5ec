"""Truststores in a real browser (Debian Chromium, live server, a real Celery worker for the
swap): an RA officer submits an `est` bundle from its tab, an approver finds it in the
approvals queue, reads the comparison and approves, the worker deploys it and the tab shows
it as deployed; the submitter can never approve; a pasted private key is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.roles import Role
from pki.models import Domain
from tests import worker as celery_worker
from tests.browser.conftest import PageLog
from tests.browser.test_login import log_in, path_of
from tests.conftest import MakeUser
from tests.truststores.certs import chain
from truststores import tasks
from truststores.models import TruststoreRequest

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

worker = celery_worker.worker


def test_submit_approve_deploy_and_refuse_a_private_key(
    page: Page,
    page_log: PageLog,
    browser: Browser,
    live_server: Any,
    make_user: MakeUser,
    domain: Domain,
    worker: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_user("rachel", Role.RA_OFFICER, domain)
    make_user("alex", Role.APPROVER, domain)
    # The approval's on-commit hook queues the swap; here it goes to the real worker.
    monkeypatch.setattr(
        tasks.deploy_request, "delay", lambda pk: worker.send(tasks.deploy_request, pk)
    )
    root, issuing = chain("Browser EST")
    bundle = tmp_path / "est-cas.pem"
    bundle.write_bytes(issuing.pem + root.pem)

    # The RA officer: Truststores → est tab → New request, with est preselected.
    log_in(page, live_server.url, "rachel", "pw-rachel")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Truststores").click()
    tabs = page.get_by_role("navigation", name="Truststore types")
    tabs.get_by_role("link", name="est", exact=True).click()
    expect(tabs.get_by_role("link", name="est", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_test_id("deployed")).to_contain_text("No est bundle is deployed")
    page.get_by_role("link", name="New request").click()
    expect(page.get_by_label("Type")).to_have_value("est")
    page.get_by_label("Name").fill("EST client CAs 2026")
    page.get_by_label("Upload the bundle").set_input_files(str(bundle))
    page.get_by_role("button", name="Submit for approval").click()

    table = page.get_by_test_id("validation")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("CN=Browser EST Issuing CA")
    expect(table).to_contain_text("CN=Browser EST Root CA")
    expect(page.get_by_test_id("verdict")).to_have_text("pass")
    expect(page.get_by_test_id("certificate-count")).to_have_text("2")
    expect(page.get_by_test_id("state")).to_have_text("Pending")
    # The submitter's own page: no Approve button, and why.
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_test_id("why-not")).to_contain_text("someone else must decide it")
    request = TruststoreRequest.objects.get()
    assert request.truststore_type == "est" and request.certificate_count == 2
    mine = path_of(page)
    assert mine == f"/truststores/{request.pk}/"

    # The approver, in a browser of their own: the queue, the comparison, Approve.
    context = browser.new_context()
    other = context.new_page()
    try:
        log_in(other, live_server.url, "alex", "pw-alex")
        other.get_by_role("link", name="Approvals").click()
        other.get_by_label("Kind").select_option("truststores.request")
        other.get_by_role("button", name="Filter").click()
        row = other.get_by_role("row").filter(has_text="EST client CAs 2026")
        expect(row).to_contain_text("rachel")
        row.get_by_role("link", name=f"#{request.approval_id}").click()
        assert path_of(other) == mine  # the truststore page, with everything on it
        comparison = other.get_by_test_id("comparison")
        expect(comparison).to_contain_text("2 added, 0 removed, 0 kept")
        expect(comparison).to_contain_text("Nothing is deployed for this type yet")
        expect(other.get_by_test_id("validation").locator("tbody tr")).to_have_count(2)
        other.get_by_label("Comment").fill("fingerprints checked with the CA team")
        other.get_by_role("button", name="Approve").click()
        expect(other.locator(".messages")).to_contain_text("approval recorded")
        expect(other.get_by_test_id("decisions")).to_contain_text(
            "fingerprints checked with the CA team"
        )
        # No est deployment target: the worker makes the request Ready at once, and the
        # approver's open page follows the swap to Ready without a reload.
        other.evaluate("window.notReloaded = true")
        expect(other.get_by_test_id("state")).to_have_text("Ready", timeout=60_000)
        assert other.evaluate("window.notReloaded") is True
    finally:
        context.close()

    assert TruststoreRequest.objects.get(pk=request.pk).state == "Ready"
    page.reload()
    expect(page.get_by_test_id("state")).to_have_text("Ready")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    page.get_by_role("link", name="est", exact=True).click()
    deployed = page.get_by_test_id("deployed")
    expect(deployed).to_contain_text("EST client CAs 2026")
    expect(deployed).to_contain_text("alex")
    expect(page.get_by_test_id("deployed-count")).to_have_text("2")
    expect(page.get_by_test_id("deployed-certificates").locator("tbody tr")).to_have_count(2)

    # A pasted bundle holding a private key: refused, nothing stored.
    page.get_by_role("link", name="New request").click()
    page.get_by_label("Name").fill("with a key")
    page.get_by_label("or paste it").fill((issuing.pem + issuing.key_pem).decode())
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.get_by_test_id("refusal")).to_contain_text("private key")
    expect(page.get_by_test_id("refusal")).to_contain_text("Nothing was stored")
    expect(page.get_by_label("or paste it")).to_have_value("")  # the key is not sent back
    assert TruststoreRequest.objects.count() == 1
    assert page_log.errors() == []
