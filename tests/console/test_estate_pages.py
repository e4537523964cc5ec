"""The estate's console pages with Django's client: each page for each role, another
domain's objects a 404, and the actions (token shown once, CSV, proposals, export, plan,
run due, rollback)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from accounts.roles import Role
from pki.models import Domain
from tests.conftest import MakeUser
from tests.console.helpers import logged_in
from tests.estate.helpers import (  # noqa: F401 (fixtures)
    Estate,
    bulk_consumers,
    bulk_report,
    estate_fixture,
    people_fixture,
)
from tests.truststores.certs import make
from truststores.estate import removal
from truststores.estate.models import RemovalPlan, TrustListChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(estate: Estate) -> dict[str, Any]:
    web = bulk_consumers(estate, 120, estate.public, "web")
    bulk_report(web[:100], [estate.fp("Public A"), estate.fp("Old Root")])
    plan = removal.create_plan(
        estate.domain, estate.people.ra, estate.cas["Old Root"], now=timezone.now()
    )
    return {"consumer": web[0].pk, "list": estate.public.pk, "plan": plan.pk}


def pages(o: dict[str, Any]) -> list[tuple[str, bool]]:
    """(path, object page: another domain's person gets 404)."""
    return [
        ("/estate/", False),
        ("/estate/consumers/?category=application&drift=1&list=public", False),
        ("/estate/consumers.csv", False),
        (f"/estate/consumers/{o['consumer']}/", True),
        ("/estate/lists/", False),
        (f"/estate/lists/{o['list']}/", True),
        (f"/estate/lists/{o['list']}/export?format=jks", True),
        ("/estate/who-trusts?ca=", False),
        ("/estate/plans/", False),
        (f"/estate/plans/{o['plan']}/", True),
        ("/estate/maturity", False),
    ]


@pytest.mark.parametrize("role", ["admin", "ra_officer", "approver", "auditor", "custodian"])
def test_every_page_for_each_role(
    objects: dict[str, Any], role: str, domain: Domain, make_user: MakeUser
) -> None:
    client = logged_in(make_user(f"u-{role}", Role(role), domain))
    for path, _ in pages(objects):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    may_plan = role in ("admin", "operator", "ra_officer")
    assert client.get("/estate/plans/new").status_code == (200 if may_plan else 403)


def test_another_domains_person(
    objects: dict[str, Any], other_domain: Domain, make_user: MakeUser
) -> None:
    client = logged_in(make_user("outsider", Role.RA_OFFICER, other_domain))
    for path, hidden in pages(objects):
        response = client.get(path)
        assert response.status_code == (404 if hidden else 200), path
    assert client.get("/estate/consumers/?domain=alpha").status_code == 404
    nobody = logged_in(make_user("nobody"))
    assert nobody.get("/estate/").status_code == 403


def test_overview_inventory_who_trusts_and_maturity(
    objects: dict[str, Any], estate: Estate
) -> None:
    client = logged_in(estate.people.auditor)
    page = client.get("/estate/").content.decode()
    assert 'data-testid="consumer-count">120<' in page and "Level 2 — Tooled" in page
    drift = client.get("/estate/consumers/?drift=1").content.decode()
    assert "<h2>0 consumer(s)</h2>" in drift  # the drift job has not run
    answer = client.get(f"/estate/who-trusts?fingerprint={estate.fp('Old Root')}").content
    assert b"Should trust it (their list): 120" in answer
    assert b"Do trust it (their report): 100" in answer
    maturity = client.get("/estate/maturity").content.decode()
    assert "Level 2 — Tooled" in maturity and "To reach level 3" in maturity
    csv = client.get("/estate/consumers.csv").content.decode()
    assert csv.splitlines()[0].startswith("name,kind") and len(csv.splitlines()) == 121


def test_consumer_token_shown_once_and_csv_import(objects: dict[str, Any], estate: Estate) -> None:
    client = logged_in(estate.people.ra)
    url = f"/estate/consumers/{objects['consumer']}/"
    shown = client.post(url, {"action": "token"}).content.decode()
    assert 'data-testid="token"' in shown and "ancc_" in shown
    assert "ancc_" not in client.get(url).content.decode().split("Report token")[0]
    refused = logged_in(estate.people.auditor).post(url, {"action": "token"}, follow=True)
    assert b"Not done" in refused.content
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = b"name,kind,category,distribution,trust_list\nnew-jvm,jvm,application,manual,public\n"
    done = client.post(
        "/estate/consumers/",
        {"domain": "alpha", "csv": SimpleUploadedFile("c.csv", data)},
        follow=True,
    )
    assert b"1 created" in done.content


def test_list_actions_and_plan_timeline_run_and_rollback(
    objects: dict[str, Any], estate: Estate
) -> None:
    ra, ann = logged_in(estate.people.ra), logged_in(estate.people.ann)
    url = f"/estate/lists/{objects['list']}/"
    added = ra.post(
        url, {"action": "add", "pem_text": make("Brand New").pem.decode(), "reason": "new"},
        follow=True,
    )  # fmt: skip
    assert b"addition proposed" in added.content
    change = TrustListChange.objects.get(action="add", state="pending")
    approval_page = ann.get(f"/approvals/{change.approval_id}/").content.decode()
    assert f"/estate/lists/{objects['list']}/" in approval_page
    assert ann.post(f"/approvals/{change.approval_id}/", {"decision": "approve"}).status_code == 302
    diff = ra.get(url).content.decode()
    assert "Brand New" in diff and 'class="added"' in diff
    export = ra.get(f"{url}export?format=pem")
    assert export.status_code == 200 and export.content.count(b"BEGIN CERTIFICATE") == 4
    assert ra.get(f"{url}export?format=nope").status_code == 400

    plan_url = f"/estate/plans/{objects['plan']}/"
    page = ra.get(plan_url).content.decode()
    assert 'data-step="notify_90"' in page and "Dependencies" in page
    ran = ra.post(plan_url, {"action": "run_due"}, follow=True).content.decode()
    assert "2 step(s) changed" in ran  # the announcement, and T-90 (a 90-day window)
    removed = ra.post(url, {"action": "remove", "plan": objects["plan"]}, follow=True)
    assert b"removal proposed" in removed.content
    assert (
        b"Not done" in ra.post(plan_url, {"action": "rollback", "reason": "x"}, follow=True).content
    )
    back = ann.post(plan_url, {"action": "rollback", "reason": "too soon"}, follow=True)
    assert b"rolled back" in back.content
    assert RemovalPlan.objects.get(pk=objects["plan"]).state == "rolled_back"
    assert TrustListChange.objects.get(action="remove").state == "cancelled"


def test_removal_offers_announced_plans_and_links_drafts_to_announce(
    objects: dict[str, Any], estate: Estate
) -> None:
    ra = logged_in(estate.people.ra)
    url = f"/estate/lists/{objects['list']}/"
    plan_url = f"/estate/plans/{objects['plan']}/"
    page = ra.get(url).content.decode()
    hint = page.split('data-testid="removal-hint"')[1].split("</p>")[0]
    assert "Only removal plans that are announced or in progress are offered" in hint
    # The plan is a draft: not offered, linked among the drafts to announce.
    assert 'name="plan"' not in page and 'data-testid="no-removal-plan"' in page
    drafts = page.split('data-testid="draft-plans"')[1].split("</ul>")[0]
    assert f'href="{plan_url}"' in drafts
    refused = ra.post(url, {"action": "remove", "plan": objects["plan"]}, follow=True)
    assert b"a removal needs an announced plan" in refused.content

    ra.post(plan_url, {"action": "run_due"})  # its announcement (and T-90) are due now
    assert RemovalPlan.objects.get(pk=objects["plan"]).state in ("announced", "in_progress")
    page = ra.get(url).content.decode()
    offered = page.split('name="plan"')[1].split("</select>")[0]
    assert f'value="{objects["plan"]}"' in offered
    assert 'data-testid="draft-plans"' not in page and 'data-testid="removal-hint"' in page


def test_new_plan_form(objects: dict[str, Any], estate: Estate) -> None:
    client = logged_in(estate.people.ra)
    form = client.get("/estate/plans/new").content.decode()
    assert "Corp Root" in form
    made = client.post(
        "/estate/plans/new",
        {"domain": "alpha", "ca": estate.cas["Corp 2"].pk, "reason": "distrust", "title": "x"},
        follow=True,
    )
    assert b"Removal plan #" in made.content and b"Distrust event" in made.content
    again = client.post("/estate/plans/new", {"domain": "alpha", "ca": estate.cas["Corp 2"].pk})
    assert b"No plan made" in again.content


def test_pages_show_labels_dates_and_links_not_raw_values(
    objects: dict[str, Any], estate: Estate
) -> None:
    auditor = logged_in(estate.people.auditor)
    overview = auditor.get("/estate/").content.decode()
    # the category's label, linking to the inventory filtered by it; never the stored value
    assert ">Application</dt>" in overview and "&amp;category=application" in overview
    plan_url = f"/estate/plans/{objects['plan']}/"
    plan = auditor.get(plan_url).content.decode()
    categories = plan.split('data-testid="categories">')[1].split("</dd>")[0]
    assert "Application 120" in categories
    windows = plan.split('data-testid="windows">')[1].split("</dd>")[0]
    assert "Embedded / third-party" in windows and "embedded_third_party" not in windows
    checked = plan.split('data-testid="checked-at">')[1].split("<")[0]
    assert len(checked) == 16 and "T" not in checked  # Y-m-d H:i, not an ISO string
    old_root = estate.fp("Old Root")
    assert f"/estate/who-trusts?domain=alpha&amp;fingerprint={old_root}" in plan
    # the auditor may not roll back: said so, with the permission, instead of a form
    assert 'data-testid="why-not-rollback"' in plan and 'value="rollback"' not in plan

    answer = logged_in(estate.people.ra).get(f"/estate/who-trusts?fingerprint={old_root}")
    text = answer.content.decode()
    assert f'href="{plan_url}"' in text.split('data-testid="ca-plans"')[1]
    ca = estate.cas["Old Root"].pk
    assert f"/estate/plans/new?domain=alpha&amp;ca={ca}" in text
    form = logged_in(estate.people.ra).get(f"/estate/plans/new?ca={ca}").content.decode()
    assert f'<option value="{ca}" selected>' in form
    assert (
        "plan-removal"
        not in auditor.get(f"/estate/who-trusts?fingerprint={old_root}").content.decode()
    )


def test_empty_estate_pages_say_so(domain: Domain, make_user: MakeUser) -> None:
    client = logged_in(make_user("ra-empty", Role.RA_OFFICER, domain))
    assert 'data-testid="no-consumers"' in client.get("/estate/consumers/").content.decode()
    assert 'data-testid="no-plans"' in client.get("/estate/plans/").content.decode()
    assert 'data-testid="who-hint"' in client.get("/estate/who-trusts").content.decode()
    assert "No trust list yet" in client.get("/estate/lists/").content.decode()
