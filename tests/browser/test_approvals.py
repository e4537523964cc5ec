"""Two people, one request, in a real browser: the submitter cannot decide it, an approver
finds it in their queue and approves it, and the engine's rules hold on the page."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from playwright.sync_api import Browser, Page, expect

from accounts.roles import Role
from approvals import services
from approvals.models import ApprovalRequest
from pki.models import Domain
from tests.approvals.testkind import TWO_PERSON
from tests.browser.test_login import log_in
from tests.conftest import MakeUser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_submitter_cannot_decide_and_an_approver_approves_from_the_queue(
    page: Page, browser: Browser, live_server: Any, make_user: MakeUser, domain: Domain
) -> None:
    officer = make_user("rachel", Role.RA_OFFICER, domain)
    make_user("alex", Role.APPROVER, domain)
    with transaction.atomic():
        request = services.submit(
            kind=TWO_PERSON.name,
            domain=domain,
            subject_type="test.thing",
            subject_id="mtls-bundle",
            submitter=officer,
            summary="swap the mtls bundle",
        )

    # The submitter sees the request but no buttons, and the reason why.
    log_in(page, live_server.url, "rachel", "pw-rachel")
    page.goto(f"{live_server.url}/approvals/{request.pk}/")
    expect(page.get_by_test_id("why-not")).to_contain_text("someone else must decide it")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    # An approver, in a browser context of their own, finds it in the queue and approves.
    context = browser.new_context()
    other = context.new_page()
    try:
        log_in(other, live_server.url, "alex", "pw-alex")
        other.get_by_role("link", name="Approvals").click()
        other.get_by_role("link", name=f"#{request.pk}").click()
        other.get_by_label("Comment").fill("checked the fingerprints")
        other.get_by_role("button", name="Approve").click()
        expect(other.get_by_test_id("state")).to_have_text("approved")
        expect(other.locator(".messages")).to_contain_text("approve recorded")
        expect(other.get_by_text("checked the fingerprints")).to_be_visible()
    finally:
        context.close()

    request.refresh_from_db()
    assert request.state == ApprovalRequest.State.APPROVED
    assert [d.approver.username for d in request.decisions.all()] == ["alex"]
