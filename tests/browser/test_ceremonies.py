"""A key ceremony in a real browser: an operator starts one from the CAs page, two custodians
approve it in the approvals queue, a real Celery worker runs the operation, and the
operator's open ceremony page follows it to done without a reload; the new CA is in the tree."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from approvals.tasks import run_action
from pki.models import Ceremony, CertificateAuthority, Domain
from tests import worker as celery_worker
from tests.browser.conftest import PageLog
from tests.browser.test_login import log_in, path_of
from tests.pki import conftest as pki_fixtures
from tests.pki.helpers import People

pki = pki_fixtures.pki
people = pki_fixtures.people
worker = celery_worker.worker

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_ceremony_from_the_form_to_a_new_ca(
    page: Page,
    page_log: PageLog,
    browser: Browser,
    live_server: Any,
    domain: Domain,
    pki: Any,
    people: People,
    worker: Any,
) -> None:
    root = pki[0]
    for user in [people.operator, *people.custodians]:
        user.set_password(f"pw-{user.username}")
        user.save()

    log_in(page, live_server.url, people.operator.username, f"pw-{people.operator.username}")
    page.get_by_role("link", name="CAs", exact=True).click()
    expect(page.get_by_test_id("ca-tree-alpha").locator("tbody tr")).to_have_count(2)
    page.get_by_role("link", name="Start a key ceremony").click()
    page.get_by_label("Domain").select_option("alpha")
    page.get_by_label("Operation").select_option("create_intermediate")
    page.get_by_label("Purpose").fill("an issuing CA for devices")
    for custodian in people.custodians:
        page.get_by_label(f"{custodian.username} (alpha)").check()
    page.get_by_label("Approvals needed (m)").fill("2")
    page.get_by_label("New CA slug").fill("alpha-devices")
    page.get_by_label("New CA name").fill("Alpha Devices CA")
    page.get_by_label("Parent CA (slug)").fill(root.slug)
    page.get_by_role("button", name="Start the ceremony").click()

    ceremony = Ceremony.objects.get()
    assert path_of(page) == f"/ceremonies/{ceremony.pk}/"
    expect(page.get_by_test_id("ceremony-state")).to_have_text("collecting approvals")
    page.evaluate("window.notReloaded = true")

    for custodian in people.custodians[:2]:
        context = browser.new_context()
        other = context.new_page()
        log_in(other, live_server.url, custodian.username, f"pw-{custodian.username}")
        other.goto(f"{live_server.url}/ceremonies/{ceremony.pk}/")
        other.get_by_role("link", name="Decide as custodian").click()
        other.get_by_label("Comment").fill(f"{custodian.username} checked the parameters")
        other.get_by_role("button", name="Approve").click()
        context.close()

    # The operator's page shows the quorum, then the worker's progress, without a reload.
    expect(page.get_by_test_id("ceremony-approvals")).to_have_text("2", timeout=15_000)
    ceremony.refresh_from_db()
    worker.send(run_action, ceremony.approval_id)
    expect(page.get_by_test_id("ceremony-state")).to_have_text("Done", timeout=60_000)
    expect(page.get_by_test_id("ceremony-action")).to_have_text("done")
    expect(page.get_by_test_id("ceremony-result")).to_contain_text("alpha-devices")
    assert page.evaluate("window.notReloaded") is True
    assert CertificateAuthority.objects.get(slug="alpha-devices").parent == root

    page.get_by_role("link", name="CAs", exact=True).click()
    tree = page.get_by_test_id("ca-tree-alpha")
    expect(tree.locator("tbody tr")).to_have_count(3)
    expect(tree.locator('tr[data-ca="alpha-devices"]')).to_contain_text("active")
    assert page_log.errors() == []


def test_a_crl_run_is_followed_in_place(
    page: Page,
    page_log: PageLog,
    live_server: Any,
    pki: Any,
    people: People,
    worker: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pki.tasks import crls as crl_tasks

    issuing = pki[1]
    # The button queues generate_crl; here it goes to the real worker.
    monkeypatch.setattr(
        crl_tasks.generate_crl,
        "delay",
        lambda *args, **kw: worker.send(crl_tasks.generate_crl, *args, *kw.values()),
    )
    people.operator.set_password("pw-op")
    people.operator.save()
    log_in(page, live_server.url, people.operator.username, "pw-op")
    page.goto(live_server.url + "/cas/")
    number = page.get_by_test_id(f"crl-number-{issuing.slug}")
    expect(number).to_have_text("none yet")
    page.locator(f'tr[data-ca="{issuing.slug}"]').get_by_role(
        "button", name="Publish CRLs now"
    ).click()
    expect(page.locator(".messages")).to_contain_text(f"CRLs for {issuing.slug} queued.")
    page.evaluate("window.notReloaded = true")
    expect(number).not_to_have_text("none yet", timeout=60_000)
    assert int(number.inner_text()) >= 1
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator(f'tr[data-ca="{issuing.slug}"] [data-live]')).to_have_count(0)
    assert page_log.errors() == []
