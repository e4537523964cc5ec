"""/api/v1/estate/removal-plans and /api/v1/estate/maturity."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from accounts.roles import Role
from pki.models import Domain
from tests.conftest import MakeUser
from tests.estate.helpers import (
    Estate,
    bulk_consumers,
)
from truststores.estate.models import RemovalPlan

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]


def test_create_detail_run_due_and_rollback(
    estate: Estate, api_client_for: Clients, other_domain: Domain, make_user: MakeUser
) -> None:
    bulk_consumers(estate, 30, estate.public, "web", category="infrastructure")
    ra, ann = api_client_for(estate.people.ra), api_client_for(estate.people.ann)
    body = {"domain": "alpha", "ca": estate.fp("Old Root").upper(), "title": "retire old"}
    made = ra.post("/api/v1/estate/removal-plans", body, format="json")
    assert made.status_code == 201, made.content
    plan = made.json()
    assert plan["trustLists"] == ["public"] and plan["state"] == "draft"
    assert plan["dependencies"]["affected"] == 30
    assert [s["kind"] for s in plan["steps"]][:2] == ["announce", "notify_90"]
    # Infrastructure: a 180-day window.
    assert plan["steps"][-1]["dueAt"] > plan["removeAt"] > plan["announceAt"]
    again = ra.post("/api/v1/estate/removal-plans", body, format="json")
    assert again.status_code == 409
    bad = ra.post("/api/v1/estate/removal-plans", {**body, "ca": "ab" * 32}, format="json")
    assert bad.status_code == 400
    url = f"/api/v1/estate/removal-plans/{plan['id']}"
    ran = ra.post(f"{url}/run-due", {}, format="json")
    assert ran.status_code == 200 and ran.json()["changed"] == ["announce"]
    assert ran.json()["state"] == "announced"
    assert ra.post(f"{url}/rollback", {"reason": "x"}, format="json").status_code == 403
    rolled = ann.post(f"{url}/rollback", {"reason": "not now"}, format="json")
    assert rolled.status_code == 200 and rolled.json()["state"] == "rolled_back"
    listed = ra.get("/api/v1/estate/removal-plans?state=rolled_back").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [r["id"] for r in rows] == [plan["id"]]
    # Another domain's people see nothing of it.
    stranger = make_user("stranger", Role.RA_OFFICER, other_domain)
    assert api_client_for(stranger).get(url).status_code == 404
    refused = api_client_for(stranger).post("/api/v1/estate/removal-plans", body, format="json")
    assert refused.status_code == 403
    assert RemovalPlan.objects.count() == 1


def test_maturity(estate: Estate, api_client_for: Clients, other_domain: Domain) -> None:
    bulk_consumers(estate, 10, estate.public, "web")
    client = api_client_for(estate.people.auditor)
    answer = client.get("/api/v1/estate/maturity?domain=alpha")
    assert answer.status_code == 200
    data = answer.json()
    assert data["level"] == 1 and data["name"] == "Ad-hoc"
    assert [c["key"] for c in data["next"]] == ["reporting_any"]
    assert data["facts"]["consumers"] == 10
    assert client.get("/api/v1/estate/maturity").json()["domain"] == "alpha"
    assert client.get("/api/v1/estate/maturity?domain=beta").status_code == 403
