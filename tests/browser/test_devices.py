"""Devices in a real browser, then the wire: an RA officer adds a device and makes it an
enrollment credential (the secret shown once), curl enrolls over EST with that secret
against the live server, the device page lists the certificate, and once the officer
revokes the credential curl gets 401."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import Role
from pki.models import Domain
from tests.browser.conftest import PageLog
from tests.browser.test_login import log_in
from tests.conftest import MakeUser
from tests.enrollment import conftest as est_fixtures

est_pki = est_fixtures.est_pki

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def enroll(url: str, user: str, secret: str, csr_der: bytes, out: Path) -> str:
    """curl's HTTP status for a simpleenroll with Basic auth (RFC 7030 §4.2.1)."""
    return subprocess.run(
        ["curl", "-s", "-o", str(out), "-w", "%{http_code}", "-u", f"{user}:{secret}",
         "-H", "Content-Type: application/pkcs10", "-H", "Content-Transfer-Encoding: base64",
         "--data-binary", base64.b64encode(csr_der).decode(), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_a_credential_from_the_console_enrolls_over_est(
    page: Page,
    page_log: PageLog,
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
    form.get_by_label("Name").fill("sensor-1")
    form.get_by_label("Serial number").fill("SN-0001")
    form.get_by_role("button", name="Add").click()
    expect(page.locator(".messages")).to_contain_text("Device sensor-1 added.")
    expect(page.get_by_test_id("serial-number")).to_have_text("SN-0001")
    device_page = page.url
    page.get_by_role("link", name="New credential for this device").click()
    page.get_by_label("Username").fill("sensor-1-est")
    page.get_by_role("button", name="Create").click()
    secret = page.get_by_test_id("secret").inner_text().strip()
    assert len(secret) >= 32

    subprocess.run(
        ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(tmp_path / "k.pem"), "-subj", "/CN=sensor-1.alpha.test",
         "-addext", "subjectAltName=DNS:sensor-1.alpha.test", "-outform", "DER",
         "-out", str(tmp_path / "csr.der")],
        capture_output=True, check=True,
    )  # fmt: skip
    csr = (tmp_path / "csr.der").read_bytes()
    url = f"{live_server.url}/.well-known/est/alpha/simpleenroll"
    assert enroll(url, "sensor-1-est", secret, csr, tmp_path / "out.b64") == "200"
    printed = subprocess.run(
        ["openssl", "pkcs7", "-inform", "DER", "-print_certs"],
        input=base64.b64decode((tmp_path / "out.b64").read_bytes()),
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "sensor-1.alpha.test" in printed

    page.goto(device_page)
    expect(page.get_by_test_id("device-certificates")).to_contain_text("sensor-1.alpha.test")
    page.get_by_test_id("revoke-sensor-1-est").click()
    expect(page.get_by_test_id("credentials")).to_contain_text("revoked")
    assert enroll(url, "sensor-1-est", secret, csr, tmp_path / "again.b64") == "401"
    assert page_log.errors() == []
