"""/api/v1/me, /api/v1/domains and /api/v1/audit-events answer per domain."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.test import APIClient

from accounts.roles import ROLE_PERMISSIONS, Perm, Role, grant_role
from audit.chain import seal
from audit.models import AuditEvent
from audit.services import record
from pki.models import Domain
from tests.conftest import MakeUser

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], APIClient]


def results(body: object) -> list[dict[str, object]]:
    """A list answer, paginated or not."""
    if isinstance(body, dict) and "results" in body:
        return list(body["results"])
    assert isinstance(body, list), body
    return body


@pytest.fixture
def gamma() -> Domain:
    return Domain.objects.create(slug="gamma", name="Gamma")


def event_in(domain: Domain | None, action: str) -> AuditEvent:
    with transaction.atomic():
        return record(action, domain=domain, object_type="test", object_id=action)


def test_me_lists_roles_and_permissions_per_domain(
    make_user: MakeUser,
    api_client_for: ClientFor,
    domain: Domain,
    other_domain: Domain,
    gamma: Domain,
) -> None:
    user = make_user("rachel", Role.RA_OFFICER, domain)
    grant_role(user, Role.AUDITOR, other_domain)

    response = api_client_for(user).get("/api/v1/me")

    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "rachel"
    assert body["is_admin"] is False
    assert set(body["domains"]) == {"alpha", "beta"}
    alpha, beta = body["domains"]["alpha"], body["domains"]["beta"]
    assert alpha["roles"] == ["ra_officer"]
    assert set(alpha["permissions"]) == {p.value for p in ROLE_PERMISSIONS[Role.RA_OFFICER]}
    assert "certs.issue" not in alpha["permissions"]
    assert beta["roles"] == ["auditor"]
    assert set(beta["permissions"]) == {"audit.view", "domain.view"}


def test_me_without_roles_lists_no_domain(make_user: MakeUser, api_client_for: ClientFor) -> None:
    response = api_client_for(make_user("nobody")).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["domains"] == {}


def test_domains_lists_only_mine_and_another_is_403(
    make_user: MakeUser,
    api_client_for: ClientFor,
    domain: Domain,
    other_domain: Domain,
    gamma: Domain,
) -> None:
    user = make_user("rachel", Role.RA_OFFICER, domain)
    grant_role(user, Role.APPROVER, gamma)
    client = api_client_for(user)

    listed = results(client.get("/api/v1/domains").json())
    assert [d["slug"] for d in listed] == ["alpha", "gamma"]

    mine = client.get("/api/v1/domains/alpha")
    assert mine.status_code == 200
    assert mine.json()["slug"] == "alpha"

    other = client.get("/api/v1/domains/beta")
    assert other.status_code == 403
    assert other["Content-Type"].startswith("application/json")
    assert "beta" in other.json()["detail"]
    assert "Beta" not in other.content.decode()  # nothing of the domain itself leaks

    missing = client.get("/api/v1/domains/nope")
    assert missing.status_code == 404
    assert missing["Content-Type"].startswith("application/json")


def one_of(client, event: AuditEvent) -> dict:
    response = client.get(f"/api/v1/audit-events/{event.pk}")
    assert response.status_code == 200
    return response.json()


def test_audit_events_are_for_the_domains_auditors_only(
    make_user: MakeUser, api_client_for: ClientFor, domain: Domain, other_domain: Domain
) -> None:
    mine = [event_in(domain, "test.alpha.one"), event_in(domain, "test.alpha.two")]
    theirs = event_in(other_domain, "test.beta.one")
    event_in(None, "test.global")
    auditor = api_client_for(make_user("audrey", Role.AUDITOR, domain))

    listed = results(auditor.get("/api/v1/audit-events").json())
    ids = {e["id"] for e in listed}
    assert {e.pk for e in mine} <= ids
    assert theirs.pk not in ids
    assert {e["domain"] for e in listed} == {"alpha"}  # neither beta's nor domain-less ones
    assert ids == set(AuditEvent.objects.filter(domain=domain).values_list("id", flat=True))
    assert results(auditor.get("/api/v1/audit-events?domain=beta").json()) == []
    assert one_of(auditor, mine[0])["seq"] is None  # not sealed into the chain yet
    seal()
    sealed = AuditEvent.objects.get(pk=mine[0].pk)
    answer = one_of(auditor, mine[0])
    assert answer["action"] == "test.alpha.one"
    assert (answer["seq"], answer["hash"]) == (sealed.seq, sealed.hash)

    other = auditor.get(f"/api/v1/audit-events/{theirs.pk}")
    assert other.status_code == 403
    assert other["Content-Type"].startswith("application/json")

    # Everyone else of the domain (here an RA officer and an operator) sees no event.
    for name, role in (("rachel", Role.RA_OFFICER), ("otto", Role.OPERATOR)):
        client = api_client_for(make_user(name, role, domain))
        assert results(client.get("/api/v1/audit-events").json()) == []
        assert client.get(f"/api/v1/audit-events/{mine[0].pk}").status_code == 403


def test_audit_events_filter_by_action_prefix(
    make_user: MakeUser, api_client_for: ClientFor, domain: Domain
) -> None:
    event_in(domain, "test.alpha.one")
    event_in(domain, "other.thing")
    auditor = api_client_for(make_user("audrey", Role.AUDITOR, domain))

    listed = results(auditor.get("/api/v1/audit-events?action=test.").json())

    assert [e["action"] for e in listed] == ["test.alpha.one"]


def test_audit_events_are_read_only(
    make_user: MakeUser, api_client_for: ClientFor, domain: Domain
) -> None:
    event = event_in(domain, "test.alpha.one")
    auditor = api_client_for(make_user("audrey", Role.AUDITOR, domain))
    for method in ("post", "put", "patch", "delete"):
        path = "/api/v1/audit-events" if method == "post" else f"/api/v1/audit-events/{event.pk}"
        response = getattr(auditor, method)(path, {"action": "x"}, format="json")
        assert response.status_code == 405, (method, response.status_code)
    assert AuditEvent.objects.get(pk=event.pk).action == "test.alpha.one"
    assert Perm.AUDIT_VIEW in ROLE_PERMISSIONS[Role.AUDITOR]
