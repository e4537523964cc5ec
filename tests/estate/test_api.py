"""/api/v1/estate/*: inventory and CSV, report tokens and reports, changes decided through
the approval engine, exports, findings and who-trusts; another domain's objects are 404."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from accounts.roles import Role
from tests.api.conftest import token_client
from tests.estate.helpers import Estate, bulk_consumers, removal_plan
from tests.truststores.certs import make
from truststores.estate import drift
from truststores.estate.models import Consumer, ObservedState

pytestmark = pytest.mark.django_db

CONSUMERS = "/api/v1/estate/consumers"


def post(client: Client, path: str, data: object) -> Any:
    return client.post(path, json.dumps(data), content_type="application/json")


def make_consumer(client: Client, name: str = "payments-jvm", **kw: str) -> dict:
    body = {
        "domain": "alpha",
        "name": name,
        "kind": "jvm",
        "category": "application",
        "distribution": "config_management",
        "ownerTeam": "payments",
        "clientBase": "internal",
        "trustList": "internal",
        **kw,
    }
    response = post(client, CONSUMERS, body)
    assert response.status_code == 201, response.content
    return response.json()


def test_inventory_crud_and_permissions(estate: Estate, make_user) -> None:
    ra = token_client(estate.people.ra)
    created = make_consumer(ra)
    assert created["trustList"] == "internal" and created["ownerTeam"] == "payments"
    path = f"{CONSUMERS}/{created['id']}"
    changed = ra.patch(path, json.dumps({"ownerTeam": "core"}), content_type="application/json")
    assert changed.status_code == 200 and changed.json()["ownerTeam"] == "core"
    bad = ra.patch(path, json.dumps({"kind": "toaster"}), content_type="application/json")
    assert bad.status_code == 400 and "kind" in bad.content.decode()
    assert (
        post(
            ra,
            CONSUMERS,
            {
                "domain": "alpha",
                "name": "payments-jvm",
                "kind": "jvm",
                "category": "os",
                "distribution": "manual",
            },
        ).status_code
        == 409
    )
    auditor = token_client(estate.people.auditor)
    assert auditor.get(path).status_code == 200
    assert auditor.delete(path).status_code == 403
    outsider = make_user("olga")
    from pki.models import Domain

    grant = Domain.objects.create(slug="gamma", name="Gamma")
    from accounts.roles import grant_role

    grant_role(outsider, Role.RA_OFFICER, grant)
    assert token_client(outsider).get(path).status_code == 404
    assert ra.delete(path).status_code == 204
    assert not Consumer.objects.filter(pk=created["id"]).exists()


def test_csv_round_trip_and_bad_rows(estate: Estate) -> None:
    ra = token_client(estate.people.ra)
    bulk_consumers(estate, 25, estate.public, "web")
    make_consumer(ra, "=cmd|calc", description="formula-looking name")
    exported = ra.get(f"{CONSUMERS}/export?domain=alpha")
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    text = exported.content.decode()
    assert text.splitlines()[0].startswith("name,kind,category")
    assert "'=cmd|calc" in text  # a spreadsheet does not run it
    Consumer.objects.filter(domain=estate.domain).delete()
    first = post(ra, f"{CONSUMERS}/import", {"domain": "alpha", "csv": text})
    assert first.status_code == 200, first.content
    assert len(first.json()["created"]) == 26
    assert Consumer.objects.get(name="=cmd|calc").trust_list == estate.internal
    again = post(ra, f"{CONSUMERS}/import", {"domain": "alpha", "csv": text})
    assert again.json() == {"created": [], "updated": [], "unchanged": 26}
    assert ra.get(f"{CONSUMERS}/export?domain=alpha").content.decode() == text

    bad = (
        "name,kind,category,distribution,trust_list\n"
        "ok-one,host,os,os_package,public\n"
        "bad-kind,toaster,os,os_package,public\n"
        "bad-list,host,os,os_package,nope\n"
        "web-0001,host,os,os_package,public\n"
    )
    response = post(ra, f"{CONSUMERS}/import", {"domain": "alpha", "csv": bad})
    assert response.status_code == 400
    errors = response.content.decode()
    assert "line 3: kind" in errors and "line 4: trust_list" in errors
    assert not Consumer.objects.filter(name="ok-one").exists()  # all or nothing
    assert Consumer.objects.get(name="web-0001").kind == "service"
    header = post(ra, f"{CONSUMERS}/import", {"domain": "alpha", "csv": "who,what\nx,y\n"})
    assert header.status_code == 400 and "unknown column" in header.content.decode()


def test_reports_with_the_consumers_own_token(estate: Estate) -> None:
    ra = token_client(estate.people.ra)
    one = make_consumer(ra, "one")
    two = make_consumer(ra, "two")
    issued = post(ra, f"{CONSUMERS}/{one['id']}/token", {})
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert token.startswith("ancc_")
    assert Consumer.objects.get(pk=one["id"]).token_digest != token  # only the digest kept
    agent = Client(raise_request_exception=False, headers={"Authorization": f"Token {token}"})
    report = f"{CONSUMERS}/{one['id']}/report"
    colon = ":".join(estate.fp("Corp Root")[i : i + 2] for i in range(0, 64, 2)).upper()
    response = post(
        agent,
        report,
        {
            "fingerprints": [colon],
            "certificates": [estate.roots["Corp 2"].pem.decode()],
            "reporter": "agent",
        },
    )
    assert response.status_code == 202, response.content
    state = ObservedState.objects.get(consumer_id=one["id"])
    assert state.fingerprints == sorted([estate.fp("Corp Root"), estate.fp("Corp 2")])
    assert state.reporter == "agent"

    # Its token does not speak for another consumer, nor does a wrong one or none.
    assert post(agent, f"{CONSUMERS}/{two['id']}/report", {"fingerprints": []}).status_code == 401
    wrong = Client(raise_request_exception=False, headers={"Authorization": "Token ancc_nope"})
    assert post(wrong, report, {"fingerprints": []}).status_code == 401
    assert post(Client(), report, {"fingerprints": []}).status_code == 401
    # Bad bodies: 400 with a reason, nothing stored.
    for junk in (
        {"fingerprints": ["zz" * 32]},
        {"fingerprints": "abc"},
        {"nope": 1},
        {"fingerprints": [], "certificates": ["not pem"]},
    ):
        answer = post(agent, report, junk)
        assert answer.status_code == 400, (junk, answer.content)
    not_json = agent.post(report, b"{not json", content_type="application/json")
    assert not_json.status_code == 400
    assert ObservedState.objects.get(consumer_id=one["id"]).fingerprints == state.fingerprints
    # A rotated token retires the old one.
    post(ra, f"{CONSUMERS}/{one['id']}/token", {})
    assert post(agent, report, {"fingerprints": []}).status_code == 401


def test_changes_exports_findings_and_who_trusts(estate: Estate) -> None:
    ra, ann, bob = (
        token_client(p) for p in (estate.people.ra, estate.people.ann, estate.people.bob)
    )
    lists = ra.get("/api/v1/estate/trust-lists").json()["results"]
    public = next(t for t in lists if t["slug"] == "public")
    assert len(public["currentVersion"]["cas"]) == 3
    new = make("Public Z").pem.decode()
    response = post(
        ra,
        "/api/v1/estate/trust-list-changes",
        {"trustList": public["id"], "action": "add", "certificates": new},
    )
    assert response.status_code == 201, response.content
    change = response.json()
    assert change["requiredApprovals"] == 1 and change["state"] == "pending"
    path = f"/api/v1/estate/trust-list-changes/{change['id']}"
    assert post(ra, f"{path}/approve", {}).status_code == 403  # not their own
    approved = post(ann, f"{path}/approve", {"comment": "ok"})
    assert approved.status_code == 200 and approved.json()["resultVersion"] == 3

    plan = removal_plan(estate, "Public A", [estate.public])
    removal = post(
        ra,
        "/api/v1/estate/trust-list-changes",
        {
            "trustList": public["id"],
            "action": "remove",
            "fingerprints": [estate.fp("Public A")],
            "removalPlan": plan.pk,
        },
    ).json()
    assert removal["requiredApprovals"] == 2
    rpath = f"/api/v1/estate/trust-list-changes/{removal['id']}"
    assert post(ann, f"{rpath}/approve", {}).json()["state"] == "pending"
    assert post(bob, f"{rpath}/approve", {}).json()["state"] == "applied"

    base = f"/api/v1/estate/trust-lists/{public['id']}"
    versions = ra.get(f"{base}/versions").json()
    assert [v["number"] for v in versions] == [4, 3, 2, 1]
    exported = ra.get(f"{base}/export?format=pkcs7&version=2")
    assert exported.status_code == 200 and exported["Content-Type"] == "application/pkcs7-mime"
    assert ra.get(f"{base}/export?format=zip").status_code == 400
    assert ra.get(f"{base}/export?version=99").status_code == 404
    rolled = post(ann, f"{base}/rollback", {"version": 3, "reason": "residual failures"})
    assert rolled.status_code == 200
    assert rolled.json()["currentVersion"]["restoredFrom"] == 3
    assert len(rolled.json()["currentVersion"]["cas"]) == 4

    bulk_consumers(estate, 10, estate.public, "web")
    drift.run()
    findings = ra.get("/api/v1/estate/drift-findings?kind=stale_report&open=true").json()
    assert findings["count"] == 10
    who = ra.get(f"/api/v1/estate/who-trusts?fingerprint={estate.fp('Public A')}").json()
    assert who["consumerCount"] == 10 and who["trustLists"][0]["slug"] == "public"
    assert ra.get("/api/v1/estate/who-trusts?fingerprint=xyz").status_code == 400
