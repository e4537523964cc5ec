"""/api/v1/profiles: profiles per domain, edits as new versions, old versions readable with
their diff."""

from __future__ import annotations

import pytest

from accounts.roles import Role, grant_role
from audit.models import AuditEvent
from pki.crypto.keys import KeyAlgorithm
from pki.models import Profile, ProfileVersion
from pki.services import hierarchy, profiles
from tests.pki.helpers import TLS_SERVER

pytestmark = pytest.mark.django_db

URL = "/api/v1/profiles"


@pytest.fixture
def ra(domain, make_user):
    return make_user("rita", Role.RA_OFFICER, domain)


@pytest.fixture
def client(ra, api_client_for):
    return api_client_for(ra)


@pytest.fixture
def beta_pki(other_domain):
    root, issuing = hierarchy.create_local_pki(other_domain, KeyAlgorithm.EC_P256)
    profiles.save_profile(
        other_domain, "tls-server", {**TLS_SERVER, "dns_suffixes": ["beta.test"]}, issuing
    )
    profiles.save_profile(other_domain, "beta-only", TLS_SERVER, issuing)
    return root, issuing


def test_list_and_detail_with_the_current_version(pki, client, beta_pki):
    _, issuing = pki
    listed = client.get(URL).json()
    assert [(p["domain"], p["name"]) for p in listed["results"]] == [("alpha", "tls-server")]
    detail = client.get(f"{URL}/tls-server")
    assert detail.status_code == 200
    body = detail.json()
    assert body["current_version"] == 1
    current = body["current"]
    assert current["version"] == 1
    assert current["ca"] == issuing.slug
    assert current["spec"] == profiles.ProfileSpec.parse(TLS_SERVER).as_json()
    assert current["diff"] is None
    assert client.get(f"{URL}?domain=alpha").json()["count"] == 1
    assert client.get(f"{URL}?domain=beta").json()["count"] == 0


def test_put_writes_version_2_and_version_1_stays_readable(pki, client):
    spec = {**TLS_SERVER, "validity_days": 30, "ekus": ["serverAuth", "clientAuth"]}
    response = client.put(
        f"{URL}/tls-server",
        {"ca": pki[1].slug, "spec": spec, "comment": "shorter lives"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["current_version"] == 2
    assert body["current"]["spec"]["validity_days"] == 30
    assert body["current"]["created_by"] == "rita"
    assert body["current"]["comment"] == "shorter lives"

    versions = client.get(f"{URL}/tls-server/versions").json()
    assert [v["version"] for v in versions] == [2, 1]

    v1 = client.get(f"{URL}/tls-server/versions/1")
    assert v1.status_code == 200
    assert v1.json()["spec"]["validity_days"] == 90
    assert v1.json()["diff"] is None
    v2 = client.get(f"{URL}/tls-server/versions/2/").json()
    assert v2["diff"] == {
        "validity_days": {"before": 90, "after": 30},
        "ekus": {"before": ["serverAuth"], "after": ["serverAuth", "clientAuth"]},
    }
    assert client.get(f"{URL}/tls-server/versions/3").status_code == 404
    event = AuditEvent.objects.get(action="pki.profile.versioned")
    assert event.details["version"] == 2 and event.actor_name == "rita"


def test_patch_merges_into_the_current_spec(pki, client):
    response = client.patch(f"{URL}/tls-server", {"spec": {"allow_wildcards": True}}, format="json")
    assert response.status_code == 200, response.content
    current = response.json()["current"]
    assert current["version"] == 2
    assert current["spec"]["allow_wildcards"] is True
    assert current["spec"]["dns_suffixes"] == TLS_SERVER["dns_suffixes"]
    assert current["ca"] == pki[1].slug
    assert current["diff"] == {"allow_wildcards": {"before": False, "after": True}}
    described = client.patch(f"{URL}/tls-server", {"description": "web"}, format="json")
    assert described.json()["current_version"] == 2  # an unchanged spec is no new version


def test_a_new_ca_is_a_change_in_the_diff(pki, domain, client, make_user):
    root, _ = pki
    response = client.patch(f"{URL}/tls-server", {"ca": root.slug}, format="json")
    assert response.status_code == 200
    assert response.json()["current"]["diff"] == {"ca": {"before": pki[1].slug, "after": root.slug}}


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({**TLS_SERVER, "min_rsa_bits": 1024}, "min_rsa_bits must be at least 2048"),
        ({**TLS_SERVER, "validity_days": 500}, "validity_days"),
        ({**TLS_SERVER, "colour": "blue"}, "unknown profile fields: colour"),
        ({**TLS_SERVER, "ekus": ["frobnicate"]}, "ekus are names"),
        ({**TLS_SERVER, "key_usage": ["keyCertSign"]}, "end-entity key usages only"),
        ({**TLS_SERVER, "ip_networks": ["10.0.0.0/33"]}, "is not an IP network"),
    ],
)
def test_a_bad_spec_is_a_400_with_the_reasons(pki, client, spec, reason):
    response = client.put(f"{URL}/tls-server", {"ca": pki[1].slug, "spec": spec}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert any(reason in r for r in body["errors"]["spec"]), body
    assert body["detail"].startswith("spec: ")
    assert ProfileVersion.objects.filter(profile__name="tls-server").count() == 1


def test_put_needs_spec_and_ca_and_a_ca_of_the_domain(pki, client, beta_pki):
    missing = client.put(f"{URL}/tls-server", {"spec": TLS_SERVER}, format="json")
    assert missing.status_code == 400
    assert "ca" in missing.json()["errors"]
    foreign = client.put(
        f"{URL}/tls-server", {"ca": beta_pki[1].slug, "spec": TLS_SERVER}, format="json"
    )
    assert foreign.status_code == 400
    assert "no CA" in foreign.json()["detail"]


def test_post_creates_a_profile_and_refuses_an_existing_name(pki, client):
    body = {
        "domain": "alpha",
        "name": "tls-client",
        "description": "clients",
        "ca": pki[1].slug,
        "spec": {**TLS_SERVER, "ekus": ["clientAuth"]},
    }
    created = client.post(URL, body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["name"] == "tls-client"
    assert created.json()["description"] == "clients"
    assert created.json()["current"]["spec"]["ekus"] == ["clientAuth"]
    again = client.post(URL, body, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "exists"
    bad = client.post(URL, {**body, "name": "bad", "spec": {"validity_days": 0}}, format="json")
    assert bad.status_code == 400
    assert not Profile.objects.filter(name="bad").exists()


def test_changing_profiles_needs_profiles_change(pki, domain, make_user, api_client_for):
    operator = api_client_for(make_user("olga", Role.OPERATOR, domain))
    assert operator.get(f"{URL}/tls-server").status_code == 200
    put = operator.put(f"{URL}/tls-server", {"ca": pki[1].slug, "spec": TLS_SERVER}, format="json")
    assert put.status_code == 403
    assert "profiles.change" in put.json()["detail"]
    body = {"domain": "alpha", "name": "x", "ca": pki[1].slug, "spec": TLS_SERVER}
    assert operator.post(URL, body, format="json").status_code == 403
    assert Profile.objects.count() == 1


def test_a_name_in_several_visible_domains_needs_domain(pki, beta_pki, ra, client):
    grant_role(ra, Role.AUDITOR, beta_pki[0].domain)
    ambiguous = client.get(f"{URL}/tls-server")
    assert ambiguous.status_code == 400
    assert "alpha, beta" in ambiguous.json()["detail"]
    assert "?domain=" in ambiguous.json()["detail"]
    beta = client.get(f"{URL}/tls-server?domain=beta")
    assert beta.status_code == 200 and beta.json()["domain"] == "beta"
    assert client.get(f"{URL}/tls-server/versions/1?domain=alpha").status_code == 200
    # Seeing beta is not changing it.
    put = client.put(
        f"{URL}/tls-server?domain=beta",
        {"ca": beta_pki[1].slug, "spec": TLS_SERVER},
        format="json",
    )
    assert put.status_code == 403
    assert client.get(f"{URL}/beta-only").status_code == 200  # unique: no ?domain= needed


def test_another_domains_profile_is_a_404(pki, beta_pki, client):
    assert client.get(f"{URL}/beta-only").status_code == 404
    assert client.get(f"{URL}/beta-only/versions").status_code == 404
    assert client.patch(f"{URL}/beta-only", {"comment": "x"}, format="json").status_code == 404
    unknown = client.get(f"{URL}/tls-server?domain=beta")
    assert unknown.status_code == 400
    assert "no domain 'beta'" in unknown.json()["detail"]


def test_profiles_cannot_be_deleted(pki, client):
    assert client.delete(f"{URL}/tls-server").status_code == 405
