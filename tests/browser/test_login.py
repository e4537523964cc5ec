"""The console in a real browser: log in, see the dashboard, log out."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import Role
from pki.models import Domain
from tests.browser.conftest import PageLog
from tests.conftest import MakeUser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(base + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("load")


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def test_ra_officer_logs_in_and_sees_the_dashboard(
    page: Page,
    page_log: PageLog,
    live_server: Any,
    make_user: MakeUser,
    domain: Domain,
    other_domain: Domain,
) -> None:
    make_user("rachel", Role.RA_OFFICER, domain)

    log_in(page, live_server.url, "rachel", "pw-rachel")

    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_test_id("username")).to_have_text("rachel")
    domains = page.locator("ul.domains")
    expect(domains).to_contain_text(domain.slug)
    expect(domains).to_contain_text(domain.name)
    expect(domains).not_to_contain_text(other_domain.slug)
    expect(page.get_by_role("link", name="Dashboard")).to_be_visible()

    # The stylesheet came from our own static files and is applied.
    css = page_log.response_for("/static/console/console.css")
    assert css.status == 200
    assert "text/css" in css.headers["content-type"]
    topbar = page.locator("header.topbar")
    assert topbar.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(16, 37, 61)"

    dashboard = page_log.response_for(live_server.url + "/")
    assert dashboard.status == 200
    csp = dashboard.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert dashboard.headers.get("x-frame-options") == "DENY"

    assert page_log.errors() == []


def test_wrong_password_shows_the_error_and_stays_on_login(
    page: Page, page_log: PageLog, live_server: Any, make_user: MakeUser, domain: Domain
) -> None:
    make_user("rachel", Role.RA_OFFICER, domain)

    log_in(page, live_server.url, "rachel", "not-the-password")

    assert path_of(page) == "/login/"
    expect(page.get_by_role("alert")).to_contain_text("did not match")
    expect(page.get_by_test_id("username")).to_have_count(0)
    posted = [r for r in page_log.responses if r.request.method == "POST"]
    assert [urlsplit(r.url).path for r in posted] == ["/login/"]
    assert posted[0].status == 200  # the form again, not a redirect into the console
    assert page_log.errors() == []


def test_anonymous_user_is_sent_to_login(page: Page, page_log: PageLog, live_server: Any) -> None:
    response = page.goto(live_server.url + "/")

    assert response is not None and response.status == 200
    assert path_of(page) == "/login/"
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    assert response.headers.get("content-security-policy")
    assert page_log.response_for("/static/console/console.css").status == 200
    assert page_log.errors() == []


def test_logout_ends_the_session(
    page: Page, page_log: PageLog, live_server: Any, make_user: MakeUser, domain: Domain
) -> None:
    make_user("rachel", Role.RA_OFFICER, domain)
    log_in(page, live_server.url, "rachel", "pw-rachel")
    expect(page.get_by_test_id("username")).to_have_text("rachel")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state("load")

    assert path_of(page) == "/login/"
    expect(page.get_by_test_id("username")).to_have_count(0)
    # The session is gone: the dashboard asks for a login again.
    page.goto(live_server.url + "/")
    assert path_of(page) == "/login/"
    assert page_log.errors() == []
