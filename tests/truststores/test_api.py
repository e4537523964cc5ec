"""/api/v1/truststore-requests and /api/v1/truststores/<type>: DESIGN.md's field names,
bad bundles answered 400 with nothing stored, decisions through the engine, domain scoping."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from approvals.models import ApprovalRequest
from pki.models import Domain
from tests.conftest import MakeUser
from tests.truststores.certs import chain, failing_bundle, good_bundle
from truststores.models import TruststoreRequest

URL = "/api/v1/truststore-requests"
FIELDS = {
    "id",
    "name",
    "description",
    "truststoreType",
    "bundle",
    "state",
    "certificateCount",
    "validationResult",
    "submittedBy",
    "createdAt",
    "domain",
    "comparison",
    "error",
    "readyAt",
}
ClientFor = Callable[[User], APIClient]


@pytest.fixture
def sam(domain: Domain, make_user: MakeUser, api_client_for: ClientFor) -> APIClient:
    return api_client_for(make_user("sam", Role.RA_OFFICER, domain))


@pytest.fixture
def ann(domain: Domain, make_user: MakeUser, api_client_for: ClientFor) -> APIClient:
    return api_client_for(make_user("ann", Role.APPROVER, domain))


def body(bundle: bytes, **kw: Any) -> dict[str, Any]:
    return {
        "domain": "alpha",
        "name": "Operator mTLS roots 2026-Q2",
        "description": "adds the new issuing CA",
        "truststoreType": "mtls",
        "bundle": base64.b64encode(bundle).decode(),
        **kw,
    }


def create(client: APIClient, bundle: bytes, **kw: Any) -> Any:
    return client.post(URL, body(bundle, **kw), format="json")


@pytest.mark.django_db
def test_create_answers_the_request_with_designs_fields(sam: APIClient) -> None:
    pem = good_bundle()
    response = create(sam, pem)
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == FIELDS
    assert data["state"] == "Pending" and data["truststoreType"] == "mtls"
    assert data["certificateCount"] == 2 and data["submittedBy"] == "sam"
    assert data["validationResult"]["verdict"] == "pass" and data["domain"] == "alpha"
    assert base64.b64decode(data["bundle"]).count(b"BEGIN CERTIFICATE") == 2
    assert data["comparison"]["deployed"] is False

    detail = sam.get(f"{URL}/{data['id']}")
    assert detail.status_code == 200 and detail.json() == data
    download = sam.get(f"{URL}/{data['id']}/bundle")
    assert download.status_code == 200
    assert download["Content-Type"].startswith("application/x-pem-file")
    assert download.content == base64.b64decode(data["bundle"])
    compare = sam.get(f"{URL}/{data['id']}/compare").json()
    assert len(compare["added"]) == 2 and compare["removed"] == []


@pytest.mark.django_db
def test_a_failing_bundle_is_stored_with_findings_and_approval_is_refused(
    sam: APIClient, ann: APIClient
) -> None:
    response = create(sam, failing_bundle())
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["validationResult"]["verdict"] == "fail"
    refused = ann.post(f"{URL}/{data['id']}/approve", {"comment": "ok"}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "validation_failed"
    assert sam.get(f"{URL}/{data['id']}").json()["state"] == "Pending"


_root, _issuing = chain("Api")
BAD: dict[str, Any] = {
    "not pem": base64.b64encode(b"just some text, not a bundle").decode(),
    "truncated base64": base64.b64encode(good_bundle()).decode()[:-3],
    "not base64": "%%%% not base64 %%%%",
    "binary junk": base64.b64encode(bytes(range(256)) * 4).decode(),
    "empty": "",
    "10 MB": base64.b64encode(_root.pem * (10 * 1024 * 1024 // len(_root.pem) + 1)).decode(),
    "private key": base64.b64encode(_issuing.pem + _issuing.key_pem + _root.pem).decode(),
}


@pytest.mark.django_db
@pytest.mark.parametrize("label", list(BAD))
def test_bad_bundles_answer_400_and_store_nothing(label: str, sam: APIClient) -> None:
    response = sam.post(URL, {**body(b""), "bundle": BAD[label]}, format="json")
    assert response.status_code == 400, (label, response.status_code, response.content[:300])
    assert response.json()["detail"]
    assert not TruststoreRequest.objects.exists() and not ApprovalRequest.objects.exists()


@pytest.mark.django_db
def test_a_large_bundle_reaches_the_validator(sam: APIClient) -> None:
    # 3 MB of PEM is 4 MB of base64: over Django's default body limit (2.5 MB), under ours,
    # so the answer is the validator's reason, not the body limit's.
    roots = b"".join(chain(f"Large {i}")[0].pem for i in range(4))
    junk = roots * (3 * 1024 * 1024 // len(roots))
    response = sam.post(
        URL, {**body(b""), "bundle": base64.b64encode(junk).decode()}, format="json"
    )
    assert response.status_code == 400, response.content[:300]
    assert "more than 5000 certificates" in response.json()["detail"]
    assert response.json().get("code") != "too_large"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [{"truststoreType": "ldap"}, {"name": ""}, {"unknown": 1}, {"domain": "nowhere"}],
)
def test_bad_fields_answer_400(change: dict[str, Any], sam: APIClient) -> None:
    response = sam.post(URL, body(good_bundle(), **change), format="json")
    assert response.status_code == 400, response.content
    assert not TruststoreRequest.objects.exists()


@pytest.mark.django_db
def test_approve_reject_cancel(
    sam: APIClient, ann: APIClient, domain: Domain, make_user: MakeUser, api_client_for: ClientFor
) -> None:
    first = create(sam, good_bundle()).json()
    assert sam.post(f"{URL}/{first['id']}/approve", {}, format="json").status_code == 403
    assert ann.post(f"{URL}/{first['id']}/cancel", {}, format="json").status_code == 403
    approved = ann.post(f"{URL}/{first['id']}/approve", {"comment": "ok"}, format="json")
    assert approved.status_code == 200 and approved.json()["state"] == "Approved"

    second = create(sam, good_bundle()).json()
    rejected = ann.post(f"{URL}/{second['id']}/reject", {"comment": "wrong"}, format="json")
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "Rejected" and rejected.json()["bundle"] is None
    assert sam.get(f"{URL}/{second['id']}/bundle").status_code == 404

    third = create(sam, good_bundle()).json()
    cancelled = sam.post(f"{URL}/{third['id']}/cancel", {}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "Cancelled"
    late = ann.post(f"{URL}/{third['id']}/approve", {}, format="json")
    assert late.status_code == 409

    listed = sam.get(URL, {"state": "Approved", "truststoreType": "mtls"}).json()
    assert [r["id"] for r in listed["results"]] == [first["id"]]
    assert sam.get(URL, {"truststoreType": "est"}).json()["results"] == []


@pytest.mark.django_db
def test_deployed_truststore(sam: APIClient, other_domain: Domain) -> None:
    missing = sam.get("/api/v1/truststores/mtls", {"domain": "alpha"})
    assert missing.status_code == 404 and missing.json()["detail"]
    created = create(sam, good_bundle()).json()
    TruststoreRequest.objects.filter(pk=created["id"]).update(
        state=TruststoreRequest.State.READY, ready_at=timezone.now()
    )
    live = sam.get("/api/v1/truststores/mtls", {"domain": "alpha"})
    assert live.status_code == 200
    assert live.json()["id"] == created["id"] and live.json()["readyAt"]
    assert sam.get("/api/v1/truststores/mtls").json()["id"] == created["id"]  # only domain
    assert sam.get("/api/v1/truststores/est", {"domain": "alpha"}).status_code == 404
    assert sam.get("/api/v1/truststores/mtls", {"domain": "beta"}).status_code == 403
    assert sam.get("/api/v1/truststores/nope").status_code == 404


@pytest.mark.django_db
def test_another_domains_requests_are_hidden(
    sam: APIClient, other_domain: Domain, make_user: MakeUser, api_client_for: ClientFor
) -> None:
    created = create(sam, good_bundle()).json()
    outsider = api_client_for(make_user("olga", Role.ADMIN, other_domain))
    for path in ("", "/bundle", "/compare"):
        assert outsider.get(f"{URL}/{created['id']}{path}").status_code == 404
    for verb in ("approve", "reject", "cancel"):
        answer = outsider.post(f"{URL}/{created['id']}/{verb}", {"comment": "x"}, format="json")
        assert answer.status_code == 404
    assert outsider.get(URL).json()["results"] == []
    assert outsider.post(URL, body(good_bundle()), format="json").status_code == 403
    assert TruststoreRequest.objects.count() == 1
