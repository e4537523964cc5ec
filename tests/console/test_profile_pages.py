"""Profile pages: list, view, edit as a new version with the diff, history; per-domain roles
(an RA officer edits, an auditor only reads, another domain's profile is 404)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.roles import Role
from audit.models import AuditEvent
from pki.models import Domain, Profile
from tests.conftest import MakeUser
from tests.console.helpers import logged_in
from tests.pki import conftest as pki_fixtures

pki = pki_fixtures.pki

pytestmark = pytest.mark.django_db

PAGE = "/profiles/alpha/tls-server/"
EDIT = PAGE + "edit"


def edit_form(client: Client, **change: Any) -> dict[str, Any]:
    """The edit form as the page fills it in, with `change` applied (False unticks)."""
    form = client.get(EDIT).context["form"]
    data = {name: form.initial.get(name) for name in form.fields}
    data["comment"] = "tighten the validity"
    data.update(change)
    return {k: v for k, v in data.items() if v is not None and v is not False}


def test_an_ra_officer_edits_a_profile_into_a_new_version_with_a_diff(
    pki: Any, domain: Domain, make_user: MakeUser
) -> None:
    rachel = logged_in(make_user("rachel", Role.RA_OFFICER, domain))
    assert "tls-server" in rachel.get("/profiles/").content.decode()
    page = rachel.get(PAGE)
    assert page.status_code == 200 and page.context["may_edit"]

    saved = rachel.post(EDIT, edit_form(rachel, validity_days=30, ekus="serverAuth, clientAuth"))
    assert saved.status_code == 302, saved.context["form"].errors if saved.context else saved
    assert saved["Location"] == PAGE + "?version=2"
    profile = Profile.objects.get(name="tls-server")
    assert profile.current_version == 2
    shown = rachel.get(saved["Location"])
    assert shown.context["changes"] == {
        "ekus": {"before": "serverAuth", "after": "serverAuth, clientAuth"},
        "validity_days": {"before": "90", "after": "30"},
    }
    assert [v.version for v in shown.context["versions"]] == [2, 1]
    # Version 1 is still there, unchanged, and its own page shows it.
    first = rachel.get(PAGE + "?version=1")
    assert dict(first.context["rules"])["validity_days"] == "90"
    event = AuditEvent.objects.get(action="pki.profile.versioned")
    assert event.actor is not None and event.actor.username == "rachel"
    assert event.details["comment"] == "tighten the validity"


def test_an_unchanged_form_adds_no_version(pki: Any, domain: Domain, make_user: MakeUser) -> None:
    rachel = logged_in(make_user("rachel", Role.RA_OFFICER, domain))
    saved = rachel.post(EDIT, edit_form(rachel), follow=True)
    assert "no new version" in saved.content.decode()
    assert Profile.objects.get(name="tls-server").current_version == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"validity_days": 4000}, "validity_days"),
        ({"min_rsa_bits": 1024}, "min_rsa_bits must be at least 2048"),
        ({"key_usage": "keyCertSign"}, "end-entity key usages only"),
        ({"ip_networks": "10.0.0.0/33"}, "is not an IP network"),
        ({"comment": ""}, "This field is required"),
    ],
)
def test_bad_rules_are_refused_with_the_reason_and_nothing_saved(
    pki: Any, domain: Domain, make_user: MakeUser, change: dict[str, Any], reason: str
) -> None:
    rachel = logged_in(make_user("rachel", Role.RA_OFFICER, domain))
    answer = rachel.post(EDIT, edit_form(rachel, **change))
    assert answer.status_code == 200
    assert reason in answer.content.decode()
    assert Profile.objects.get(name="tls-server").current_version == 1


def test_who_may_see_and_edit(
    pki: Any, domain: Domain, other_domain: Domain, make_user: MakeUser
) -> None:
    auditor = logged_in(make_user("audrey", Role.AUDITOR, domain))
    assert auditor.get(PAGE).status_code == 200
    assert not auditor.get(PAGE).context["may_edit"]
    assert auditor.get(EDIT).status_code == 403
    assert auditor.post(EDIT, {"comment": "x"}).status_code == 403

    stranger = logged_in(make_user("sven", Role.RA_OFFICER, other_domain))
    assert "tls-server" not in stranger.get("/profiles/").content.decode()
    assert stranger.get(PAGE).status_code == 404
    assert stranger.get(EDIT).status_code == 404
    assert Client().get(PAGE).status_code == 302  # to the login page
