"""Profiles in a real browser: an RA officer edits a profile into version 2 and sees the diff
and the history; an auditor of the domain reads it but finds no way to edit."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import Role
from pki.models import Domain, Profile
from tests.browser.conftest import PageLog
from tests.browser.test_login import log_in, path_of
from tests.conftest import MakeUser
from tests.pki import conftest as pki_fixtures

pki = pki_fixtures.pki

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_ra_officer_edits_a_profile_and_an_auditor_only_reads_it(
    page: Page,
    page_log: PageLog,
    live_server: Any,
    make_user: MakeUser,
    domain: Domain,
    pki: Any,
) -> None:
    make_user("rachel", Role.RA_OFFICER, domain)
    make_user("audrey", Role.AUDITOR, domain)

    log_in(page, live_server.url, "rachel", "pw-rachel")
    page.get_by_role("link", name="Profiles").click()
    page.get_by_role("link", name="tls-server").click()
    assert path_of(page) == "/profiles/alpha/tls-server/"
    expect(page.get_by_test_id("shown-version")).to_have_text("1")
    page.get_by_role("link", name="Edit (new version)").click()
    page.get_by_label("Validity days:", exact=True).fill("30")
    page.get_by_label("Allow wildcards").check()
    page.get_by_label("Why this change").fill("shorter certificates")
    page.get_by_role("button", name="Save as version 2").click()

    expect(page.locator(".messages")).to_contain_text("Saved as version 2.")
    expect(page.get_by_test_id("shown-version")).to_have_text("2")
    diff = page.get_by_test_id("diff")
    expect(diff.locator("tbody tr")).to_have_count(2)
    expect(diff.get_by_role("row", name="validity_days")).to_contain_text("90")
    expect(diff.get_by_role("row", name="validity_days")).to_contain_text("30")
    expect(diff.get_by_role("row", name="allow_wildcards")).to_contain_text("yes")
    expect(page.get_by_test_id("history").locator("li")).to_have_count(2)
    assert Profile.objects.get(name="tls-server").current_version == 2

    # A bad rule comes back with the reason, and nothing is saved.
    page.get_by_role("link", name="Edit (new version)").click()
    page.get_by_label("Min rsa bits").fill("1024")
    page.get_by_label("Why this change").fill("weaker keys")
    page.get_by_role("button", name="Save as version 3").click()
    expect(page.get_by_test_id("form-errors")).to_contain_text("at least 2048")
    assert Profile.objects.get(name="tls-server").current_version == 2
    page.get_by_role("button", name="Log out").click()

    log_in(page, live_server.url, "audrey", "pw-audrey")
    page.goto(live_server.url + "/profiles/alpha/tls-server/?version=1")
    expect(page.get_by_test_id("shown-version")).to_have_text("1")
    expect(page.get_by_role("link", name="Edit (new version)")).to_have_count(0)
    assert page_log.errors() == []
    refused = page.goto(live_server.url + "/profiles/alpha/tls-server/edit")
    assert refused is not None and refused.status == 403
