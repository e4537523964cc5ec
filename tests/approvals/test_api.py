"""REST API for approvals: /api/v1/approvals and its approve / reject / cancel actions."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role, grant_role
from approvals.models import ApprovalRequest

pytestmark = pytest.mark.django_db


def url(request: ApprovalRequest | int, action: str = "") -> str:
    pk = request if isinstance(request, int) else request.pk
    return f"/api/v1/approvals/{pk}" + (f"/{action}" if action else "")


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["detail"]
    if code is not None:
        assert body["code"] == code
    return body


def test_list_shows_only_requests_of_my_domains(
    submit, people, other_domain, make_user, api_client_for
):
    mine = [submit(), submit(m=2)]
    beta_submitter = make_user("bert", Role.RA_OFFICER, other_domain)
    theirs = submit(domain=other_domain, submitter=beta_submitter)

    response = api_client_for(people.ann).get("/api/v1/approvals")
    assert response.status_code == 200
    assert {r["id"] for r in response.json()["results"]} == {r.pk for r in mine}
    assert all(r["domain"] == "alpha" for r in response.json()["results"])

    response = api_client_for(people.eve).get("/api/v1/approvals")
    assert [r["id"] for r in response.json()["results"]] == [theirs.pk]

    response = api_client_for(people.ned).get("/api/v1/approvals")
    assert response.json()["results"] == []


def test_list_filters_by_state(submit, people, api_client_for):
    pending, cancelled = submit(), submit()
    api_client_for(people.sam).post(url(cancelled, "cancel"), {}, format="json")

    response = api_client_for(people.ann).get("/api/v1/approvals?state=pending")
    assert [r["id"] for r in response.json()["results"]] == [pending.pk]


def test_approve_over_the_api(submit, people, api_client_for):
    request = submit(m=2)

    response = api_client_for(people.ann).post(
        url(request, "approve"), {"comment": "ok"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["approvals"], body["required_approvals"]) == ("pending", 1, 2)
    assert body["decisions"][0]["approver"] == "ann"
    assert body["decisions"][0]["comment"] == "ok"

    response = api_client_for(people.bob).post(url(request, "approve"), format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "approved"
    assert response.json()["action_state"] == "queued"


def test_self_approval_answers_403(submit, people, domain, api_client_for):
    grant_role(people.sam, Role.APPROVER, domain)
    request = submit()

    body = assert_error(api_client_for(people.sam).post(url(request, "approve")), 403)
    assert "you submitted this request" in body["detail"]
    assert not request.decisions.exists()


def test_another_domains_request_answers_403(submit, people, api_client_for):
    request = submit()
    client = api_client_for(people.eve)  # approver of beta only

    assert_error(client.get(url(request)), 403)
    for action in ("approve", "reject", "cancel"):
        assert_error(client.post(url(request, action), {"comment": "x"}, format="json"), 403)
    request.refresh_from_db()
    assert request.state == ApprovalRequest.State.PENDING
    assert not request.decisions.exists()


def test_seeing_the_domain_is_not_enough_to_approve(submit, people, api_client_for):
    request = submit()
    body = assert_error(api_client_for(people.rita).post(url(request, "approve")), 403)
    assert "truststores.approve" in body["detail"]


def test_a_double_vote_answers_409(submit, people, api_client_for):
    request = submit(m=2)
    client = api_client_for(people.ann)
    assert client.post(url(request, "approve")).status_code == 200

    assert_error(client.post(url(request, "approve")), 409, "already_decided")
    assert request.decisions.count() == 1


def test_deciding_a_request_that_is_not_pending_answers_409(submit, people, api_client_for):
    request = submit()
    assert api_client_for(people.sam).post(url(request, "cancel")).status_code == 200

    assert_error(api_client_for(people.ann).post(url(request, "approve")), 409, "not_pending")
    assert_error(
        api_client_for(people.bob).post(url(request, "reject"), {"comment": "no"}, format="json"),
        409,
        "not_pending",
    )
    assert_error(api_client_for(people.sam).post(url(request, "cancel")), 409, "not_pending")


def test_only_the_submitter_cancels(submit, people, api_client_for):
    request = submit()
    assert_error(api_client_for(people.ann).post(url(request, "cancel")), 403)

    response = api_client_for(people.sam).post(
        url(request, "cancel"), {"comment": "dup"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"


def test_reject_needs_a_reason(submit, people, api_client_for):
    request = submit()
    client = api_client_for(people.ann)

    assert_error(client.post(url(request, "reject"), {"comment": " "}, format="json"), 400)
    response = client.post(url(request, "reject"), {"comment": "expired root"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "rejected"
    assert_error(client.post(url(request, "approve")), 409, "not_pending")


def test_missing_or_bad_token_answers_401(submit):
    request = submit()
    anonymous = APIClient()
    for response in (
        anonymous.get("/api/v1/approvals"),
        anonymous.get(url(request)),
        anonymous.post(url(request, "approve")),
    ):
        assert_error(response, 401)
        assert response["WWW-Authenticate"] == "Token"

    anonymous.credentials(HTTP_AUTHORIZATION="Token anc_not-a-real-token")
    assert_error(anonymous.post(url(request, "approve")), 401)
    request.refresh_from_db()
    assert request.state == ApprovalRequest.State.PENDING


@pytest.mark.parametrize("body", ["[]", '["comment"]', '"approve"', "null", "42", "{not json"])
def test_a_body_that_is_not_a_json_object_answers_400(submit, people, api_client_for, body):
    request = submit()
    response = api_client_for(people.ann).post(
        url(request, "approve"), body, content_type="application/json"
    )
    assert_error(response, 400)
    assert not request.decisions.exists()


def test_a_comment_of_the_wrong_type_answers_400(submit, people, api_client_for):
    request = submit()
    client = api_client_for(people.ann)
    assert_error(client.post(url(request, "reject"), {"comment": {"a": 1}}, format="json"), 400)
    assert_error(client.post(url(request, "reject"), {"comment": "x" * 2001}, format="json"), 400)


def test_an_unknown_request_answers_404(people, api_client_for):
    client = api_client_for(people.ann)
    assert_error(client.get(url(999_999)), 404)
    assert_error(client.post(url(999_999, "approve")), 404)
    assert_error(client.post("/api/v1/approvals/junk/approve"), 404)
