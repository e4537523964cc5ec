"""Browser onboarding end to end in Chromium: an RA officer adds a device to be onboarded by
link, makes a one-time link on its page (shown once), a fresh browser context with nobody
logged in opens it, sets the PKCS#12 password and downloads the file, which openssl opens and
verifies; a second visit is refused and the device page shows the link used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.roles import Role
from enrollment.models import Device
from pki.models import Domain, IssuedCertificate
from tests.browser.conftest import PageLog
from tests.browser.test_login import log_in
from tests.conftest import MakeUser
from tests.enrollment import conftest as est_fixtures
from tests.enrollment.onboarding_helpers import PASSWORD, open_pkcs12

est_pki = est_fixtures.est_pki

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_one_time_link_works_once(
    page: Page,
    page_log: PageLog,
    browser: Browser,
    live_server: Any,
    make_user: MakeUser,
    domain: Domain,
    est_pki: Any,
    tmp_path: Path,
) -> None:
    make_user("rachel", Role.RA_OFFICER, domain)
    log_in(page, live_server.url, "rachel", "pw-rachel")
    page.get_by_role("link", name="Devices").click()
    form = page.get_by_test_id("device-form")
    form.get_by_label("Name").fill("kiosk-9")
    form.get_by_label("Onboarding").select_option("browser")
    form.get_by_role("button", name="Add").click()
    expect(page.get_by_test_id("onboarding-state")).to_contain_text("waiting")
    expect(page.get_by_test_id("pkcs12-disabled")).to_be_disabled()
    device_page = page.url
    page.get_by_test_id("link-new").click()
    url = page.get_by_test_id("onboarding-url").inner_text().strip()
    assert "/onboard/" in url

    stranger = browser.new_context()  # someone else, nobody logged in
    visitor = stranger.new_page()
    errors: list[str] = []
    visitor.on("pageerror", lambda exc: errors.append(str(exc)))
    visitor.goto(url)
    expect(visitor.get_by_test_id("device-name")).to_have_text("kiosk-9")
    expect(visitor.get_by_test_id("domain-name")).to_contain_text("alpha")
    visitor.get_by_label("PKCS#12 password").fill(PASSWORD)
    visitor.get_by_label("The password again").fill(PASSWORD)
    with visitor.expect_download() as download:
        visitor.get_by_role("button", name="Download the PKCS#12").click()
    saved = tmp_path / "kiosk.p12"
    download.value.save_as(saved)
    open_pkcs12(saved.read_bytes(), tmp_path)
    cert = IssuedCertificate.objects.get()
    assert download.value.suggested_filename == f"{cert.serial}.p12"

    second = visitor.goto(url)
    assert second is not None and second.status == 410
    expect(visitor.get_by_test_id("refusal")).to_contain_text("used already")
    stranger.close()
    assert errors == []
    assert IssuedCertificate.objects.count() == 1

    device = Device.objects.get(name="kiosk-9")
    assert device.domain_credential == cert and device.onboarding_method == "browser"
    page.goto(device_page)
    expect(page.get_by_test_id("onboarding-links")).to_contain_text("used")
    expect(page.get_by_test_id("domain-credential")).to_contain_text(cert.serial[:12])
    assert page_log.errors() == []
