"""A removal plan in Chromium: an RA officer makes the plan and sees its timeline (the
announcement done by "run due steps now"), an approver rolls it back."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from pki.models import Domain
from tests.browser.test_login import log_in
from tests.conftest import MakeUser
from tests.estate.helpers import build_estate, bulk_consumers, make_people
from truststores.estate.models import RemovalPlan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_plan_see_timeline_roll_back(
    browser: Browser, live_server: Any, domain: Domain, make_user: MakeUser
) -> None:
    estate = build_estate(domain, make_people(domain, make_user))
    bulk_consumers(estate, 40, estate.public, "lb", category="infrastructure")
    errors: list[str] = []

    context = browser.new_context()
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_server.url, "rita", "pw-rita")
    page.goto(live_server.url + "/estate/plans/")
    page.get_by_role("link", name="New removal plan").click()
    page.select_option("#ca", label=f"{estate.cas['Old Root'].subject} "
                       f"({estate.fp('Old Root')[:11]}…)")  # fmt: skip
    page.fill("#title", "Retire the old root")
    page.get_by_role("button", name="Make the plan").click()
    expect(page.locator("h1")).to_contain_text("Retire the old root")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("tr[data-step]")).to_have_count(10)
    expect(page.get_by_test_id("dependencies")).to_contain_text("40 consumer(s)")
    plan = RemovalPlan.objects.get()
    assert plan.remove_at is not None and plan.announce_at is not None
    # Infrastructure consumers: a 180-day window, shown as the removal date.
    assert (plan.remove_at - plan.announce_at).days == 180
    expect(page.get_by_test_id("remove-at")).to_contain_text(plan.remove_at.strftime("%Y-%m-%d"))
    page.get_by_role("button", name="Run due steps now").click()
    expect(timeline.locator('tr[data-step="announce"]')).to_contain_text("done")
    expect(timeline.locator('tr[data-step="notify_90"]')).to_contain_text("pending")
    expect(page.get_by_test_id("plan-state")).to_have_text(re.compile("announced", re.I))
    context.close()

    context = browser.new_context()
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_server.url, "ann", "pw-ann")
    page.goto(f"{live_server.url}/estate/plans/{plan.pk}/")
    page.fill("#rb-reason", "the payments team is not ready")
    page.get_by_role("button", name="Roll back the removal").click()
    expect(page.get_by_test_id("plan-state")).to_have_text(re.compile("rolled back", re.I))
    expect(page.locator('tr[data-step="remove"]')).to_contain_text("skipped")
    context.close()
    assert errors == []
