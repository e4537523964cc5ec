"""/api/v1/ceremonies: an m-of-n key ceremony proposed, approved by its custodians and run by
the engine; nothing happens before the quorum, whoever calls the operation."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from accounts.roles import Role
from approvals.models import ApprovalRequest
from approvals.tasks import run_action
from audit.models import AuditEvent
from config.errors import Conflict
from pki.crypto.keys import KeyAlgorithm
from pki.models import Ceremony, CertificateAuthority
from pki.services import ceremonies, hierarchy
from pki.services.ceremony_rules import QuorumNotMet

pytestmark = pytest.mark.django_db

URL = "/api/v1/ceremonies"


@pytest.fixture
def people(domain, make_user, api_client_for):
    users = {
        "olga": make_user("olga", Role.OPERATOR, domain),
        "cara": make_user("cara", Role.CUSTODIAN, domain),
        "cody": make_user("cody", Role.CUSTODIAN, domain),
        "cole": make_user("cole", Role.CUSTODIAN, domain),
        "carl": make_user("carl", Role.CUSTODIAN, domain),  # a custodian, but not named
        "aude": make_user("aude", Role.AUDITOR, domain),
    }
    return SimpleNamespace(**{name: api_client_for(u) for name, u in users.items()}, users=users)


def propose(client, **overrides):
    body = {
        "domain": "alpha",
        "operation": "create_root",
        "purpose": "a second root for the 2030s",
        "threshold": 2,
        "custodians": ["cara", "cody", "cole"],
        "params": {"slug": "alpha-root-2030", "algorithm": KeyAlgorithm.EC_P384.value},
        **overrides,
    }
    return client.post(URL, body, format="json")


def decide(client, ceremony_id: int, verdict: str = "approve", comment: str = ""):
    return client.post(f"{URL}/{ceremony_id}/{verdict}", {"comment": comment}, format="json")


def test_threshold_two_runs_only_after_the_second_approval(people):
    response = propose(people.olga)
    assert response.status_code == 201, response.content
    body = response.json()
    cid = body["id"]
    assert body["state"] == "pending"
    assert body["custodians"] == ["cara", "cody", "cole"]
    assert (body["threshold"], body["approvals"], body["approved_by"]) == (2, 0, [])
    assert body["action_state"] == "none"
    assert body["started_by"] == "olga"
    assert body["approval_id"] == Ceremony.objects.get(pk=cid).approval_id
    assert "secret" not in json.dumps(body)

    first = decide(people.cara, cid, comment="key generated on the HSM, witnessed")
    assert first.status_code == 200, first.content
    assert (first.json()["approvals"], first.json()["approved_by"]) == (1, ["cara"])
    assert first.json()["state"] == "pending"
    assert not CertificateAuthority.objects.filter(slug="alpha-root-2030").exists()
    # Nobody runs the operation early, not even by calling it directly.
    with pytest.raises(QuorumNotMet):
        hierarchy.execute(cid)
    assert not CertificateAuthority.objects.filter(slug="alpha-root-2030").exists()

    again = decide(people.cara, cid)
    assert again.status_code == 409
    assert again.json()["code"] == "already_decided"

    second = decide(people.cody, cid)
    assert second.status_code == 200
    assert second.json()["state"] == "approved"
    assert second.json()["action_state"] == "queued"
    assert not CertificateAuthority.objects.filter(slug="alpha-root-2030").exists()

    assert run_action(second.json()["approval_id"]) == "done"
    ca = CertificateAuthority.objects.get(slug="alpha-root-2030")
    assert ca.kind == "root" and ca.ceremony_id == cid and ca.key_algorithm == "ec-p384"
    event = AuditEvent.objects.get(action="ca.root.created", object_id=str(ca.pk))
    assert event.details["ceremony_id"] == cid

    done = people.aude.get(f"{URL}/{cid}").json()
    assert done["state"] == "done"
    assert done["result"] == {"ca": "alpha-root-2030"}
    assert done["finished_at"] and done["action_state"] == "done"
    assert decide(people.cole, cid).status_code == 409  # no longer pending


def test_non_custodians_may_not_approve(people):
    cid = propose(people.olga).json()["id"]
    # Holding no ceremonies.approve at all: refused before the engine is asked.
    refused = decide(people.aude, cid)
    assert refused.status_code == 403
    assert "ceremonies.approve" in refused.json()["detail"]
    # A custodian of the domain who is not named in this ceremony: the engine refuses.
    unnamed = decide(people.carl, cid)
    assert unnamed.status_code == 403
    assert "named" in unnamed.json()["detail"]
    # The proposer does not approve their own ceremony.
    assert decide(people.olga, cid).status_code == 403
    assert ApprovalRequest.objects.get(ceremony__pk=cid).decisions.count() == 0


def test_a_rejection_needs_a_reason_and_ends_the_ceremony(people):
    cid = propose(people.olga).json()["id"]
    assert decide(people.cara, cid, "reject").status_code == 400
    rejected = decide(people.cara, cid, "reject", "wrong curve for the 2030s")
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "rejected"
    assert decide(people.cody, cid).status_code == 409
    with pytest.raises(Conflict, match="rejected"):
        hierarchy.execute(cid)
    assert not CertificateAuthority.objects.filter(slug="alpha-root-2030").exists()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"threshold": 4}, "threshold"),
        ({"threshold": 0}, "threshold"),
        ({"custodians": ["cara", "nobody"]}, "nobody"),
        ({"custodians": ["cara", "cara"]}, "once"),
        ({"custodians": ["cara", "aude"]}, "aude is not a custodian"),
        ({"operation": "destroy_everything"}, "operation"),
        ({"purpose": ""}, "purpose"),
        ({"params": {"slug": "not a slug"}}, "slug"),
        ({"params": {"slug": "x", "algorithm": "rsa-512"}}, "algorithm"),
        ({"params": []}, "params"),
        ({"domain": "nope"}, "no such domain"),
    ],
)
def test_bad_proposals_are_400s(people, overrides, reason):
    response = propose(people.olga, **overrides)
    assert response.status_code == 400, response.content
    assert reason in json.dumps(response.json())
    assert not Ceremony.objects.exists()


def test_an_existing_ca_slug_is_a_400(pki, people):
    response = propose(people.olga, params={"slug": pki[0].slug})
    assert response.status_code == 400
    assert "exists" in response.json()["detail"]


def test_only_holders_of_ceremonies_propose_propose(people):
    response = propose(people.cara, custodians=["cody", "cole"])
    assert response.status_code == 403
    assert "ceremonies.propose" in response.json()["detail"]
    assert not Ceremony.objects.exists()


def test_non_json_body_is_a_400(people):
    response = people.olga.post(URL, b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert people.olga.post(URL, b"[]", content_type="application/json").status_code == 400


def test_the_sealed_secret_is_never_shown(people, domain):
    cid = propose(people.olga).json()["id"]
    Ceremony.objects.filter(pk=cid).update(sealed_secret=b"sealed-bytes")
    for body in (people.aude.get(f"{URL}/{cid}").json(), people.aude.get(URL).json()):
        text = json.dumps(body)
        assert "secret" not in text and "sealed" not in text


def test_another_domains_ceremony_is_a_404_and_not_listed(people, other_domain, make_user):
    beta_custodians = [make_user(f"b{i}", Role.CUSTODIAN, other_domain) for i in range(2)]
    ceremony = ceremonies.start(
        other_domain,
        "create_root",
        purpose="beta root",
        threshold=1,
        custodians=beta_custodians,
        started_by=make_user("b-op", Role.OPERATOR, other_domain),
        params={"slug": "beta-root"},
    )
    assert people.cara.get(f"{URL}/{ceremony.pk}").status_code == 404
    assert decide(people.cara, ceremony.pk).status_code == 404
    assert people.cara.get(URL).json()["count"] == 0
    own = propose(people.olga).json()["id"]
    listed = people.aude.get(URL).json()
    assert [c["id"] for c in listed["results"]] == [own]
    assert people.aude.get(f"{URL}?state=done").json()["count"] == 0
