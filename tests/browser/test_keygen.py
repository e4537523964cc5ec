"""A server-made key in a real browser: an operator fills the form, Chromium downloads the
PKCS#12 once, and openssl opens it with the password."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from accounts.roles import Role
from pki.models import Domain, IssuedCertificate
from tests.browser.conftest import PageLog
from tests.browser.test_login import log_in
from tests.conftest import MakeUser
from tests.pki import conftest as pki_fixtures

pki = pki_fixtures.pki

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_downloads_a_server_made_key(
    page: Page,
    page_log: PageLog,
    live_server: Any,
    make_user: MakeUser,
    domain: Domain,
    pki: Any,
    tmp_path: Path,
) -> None:
    make_user("olga", Role.OPERATOR, domain)
    log_in(page, live_server.url, "olga", "pw-olga")
    page.get_by_role("link", name="Certificates").click()
    page.get_by_role("link", name="Request a certificate").click()
    page.get_by_role("link", name="Let the server make the key").click()
    page.get_by_label("Common name").fill("kiosk.alpha.test")
    page.get_by_label("DNS names").fill("kiosk.alpha.test")
    page.get_by_label("Key").select_option("ec-p384")
    page.get_by_label("PKCS#12 password").fill("a long enough password")
    page.get_by_label("The password again").fill("a long enough password")
    with page.expect_download() as download:
        page.get_by_role("button", name="Issue and download the PKCS#12").click()
    cert = IssuedCertificate.objects.get()
    assert download.value.suggested_filename == f"{cert.serial}.p12"
    saved = tmp_path / "kiosk.p12"
    download.value.save_as(saved)
    opened = subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-in",
            str(saved),
            "-passin",
            "pass:a long enough password",
            "-nodes",
        ],
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "PRIVATE KEY" in opened and "kiosk.alpha.test" in opened
    assert page_log.errors() == []
