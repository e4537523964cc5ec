"""The approval page: a person decides through the same engine rules as the API."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.roles import Role
from approvals import services
from approvals.models import ApprovalRequest
from tests.approvals.testkind import TWO_PERSON as KIND
from tests.console.helpers import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(domain, make_user):
    officer = make_user("officer", Role.RA_OFFICER, domain)
    return services.submit(
        kind=KIND.name,
        domain=domain,
        subject_type="test.thing",
        subject_id="1",
        submitter=officer,
        summary="swap the mtls bundle",
    )


def test_approver_sees_the_request_in_the_queue_and_approves_it(pending, domain, make_user):
    approver = make_user("appr", Role.APPROVER, domain)
    client = logged_in(approver)
    queue = client.get("/approvals/")
    assert f"/approvals/{pending.pk}/" in queue.content.decode()

    response = client.post(f"/approvals/{pending.pk}/", {"decision": "approve", "comment": "ok"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.state == ApprovalRequest.State.APPROVED


def test_submitter_cannot_approve_own_request_through_the_page(pending):
    client = logged_in(pending.submitter)
    page = client.get(f"/approvals/{pending.pk}/").content.decode()
    assert "someone else must decide it" in page
    client.post(f"/approvals/{pending.pk}/", {"decision": "approve"})
    pending.refresh_from_db()
    assert pending.state == ApprovalRequest.State.PENDING
    follow = client.get(f"/approvals/{pending.pk}/").content.decode()
    assert "someone else must decide it" in follow


def test_reject_without_reason_is_refused_with_the_reason_shown(pending, domain, make_user):
    client = logged_in(make_user("appr", Role.APPROVER, domain))
    response = client.post(
        f"/approvals/{pending.pk}/", {"decision": "reject", "comment": " "}, follow=True
    )
    assert "a rejection needs a reason" in response.content.decode()
    pending.refresh_from_db()
    assert pending.state == ApprovalRequest.State.PENDING


def test_submitter_cancels_from_the_page(pending):
    client = logged_in(pending.submitter)
    client.post(f"/approvals/{pending.pk}/", {"decision": "cancel"})
    pending.refresh_from_db()
    assert pending.state == ApprovalRequest.State.CANCELLED


def test_another_domains_request_is_forbidden(pending, other_domain, make_user):
    outsider = make_user("outsider", Role.APPROVER, other_domain)
    client = logged_in(outsider)
    assert client.get(f"/approvals/{pending.pk}/").status_code == 403
    assert client.post(f"/approvals/{pending.pk}/", {"decision": "approve"}).status_code == 403
    assert f"/approvals/{pending.pk}/" not in client.get("/approvals/").content.decode()
    pending.refresh_from_db()
    assert pending.state == ApprovalRequest.State.PENDING


def test_anonymous_is_sent_to_login(pending):
    response = Client().get(f"/approvals/{pending.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
