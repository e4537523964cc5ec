"""Deployment targets: configured by admins in the Django admin (validated, audited), shown
read-only over the API with the last deployment, scoped to the caller's domains."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from accounts.roles import Role
from audit.models import AuditEvent
from pki.models import Domain
from tests.conftest import MakeUser
from tests.truststores.certs import good_bundle
from truststores import deploy, services
from truststores.models import DeploymentTarget

URL = "/api/v1/truststore-targets"


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


def form(domain: Domain, **change: str) -> dict[str, str]:
    return {
        "domain": str(domain.pk),
        "truststore_type": "mtls",
        "name": "edge nginx",
        "kind": "file",
        "path": "/etc/nginx/client-cas.pem",
        "reload_command": '["nginx", "-s", "reload"]',
        "enabled": "on",
        **change,
    }


@pytest.mark.django_db
def test_an_admin_adds_a_target_and_it_is_audited(admin_client: Client, domain: Domain) -> None:
    response = admin_client.post("/admin/truststores/deploymenttarget/add/", form(domain))
    assert response.status_code == 302, response.content[:2000]
    target = DeploymentTarget.objects.get()
    assert target.reload_command == ["nginx", "-s", "reload"]
    event = AuditEvent.objects.get(action="truststores.deploymenttarget.created")
    assert (
        event.domain_id == domain.pk and event.actor is not None and event.actor.username == "root"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"path": "relative/cas.pem"}, "path"),
        ({"path": "/etc/nginx/../shadow"}, "path"),
        ({"reload_command": '"nginx -s reload"'}, "reload_command"),
        ({"reload_command": '["nginx", 3]'}, "reload_command"),
        ({"reload_command": '["nginx", ""]'}, "reload_command"),
    ],
)
def test_the_admin_refuses_a_bad_target(
    admin_client: Client, domain: Domain, change: dict[str, str], field: str
) -> None:
    response = admin_client.post("/admin/truststores/deploymenttarget/add/", form(domain, **change))
    assert response.status_code == 200  # the form again, with the error
    assert field in response.context["adminform"].form.errors
    assert not DeploymentTarget.objects.exists()


def rows_of(listed: list[dict] | dict) -> list[dict]:
    return listed["results"] if isinstance(listed, dict) else listed


@pytest.mark.django_db
def test_the_api_lists_targets_with_their_last_deployment(
    domain: Domain,
    other_domain: Domain,
    make_user: MakeUser,
    api_client_for: Callable[[User], APIClient],
    tmp_path: Path,
) -> None:
    sam = make_user("sam", Role.RA_OFFICER, domain)
    ann = make_user("ann", Role.APPROVER, domain)
    mine = DeploymentTarget.objects.create(
        domain=domain,
        truststore_type="mtls",
        path=str(tmp_path / "m.pem"),
        reload_command=["false"],
    )
    theirs = DeploymentTarget.objects.create(
        domain=other_domain, truststore_type="mtls", path=str(tmp_path / "o.pem")
    )
    request = services.submit(domain, sam, name="r", truststore_type="mtls", bundle=good_bundle())
    services.approve(request, ann)
    assert deploy.deploy(request.pk) == deploy.Outcome.FAILED

    client = api_client_for(sam)
    rows = rows_of(client.get(URL).json())
    assert [row["id"] for row in rows] == [mine.pk]
    [row] = rows
    assert row["truststoreType"] == "mtls" and row["reloadCommand"] == ["false"]
    assert row["lastDeployment"]["state"] == "failed"
    assert "exited with 1" in row["lastDeployment"]["error"]
    assert client.get(f"{URL}/{theirs.pk}").status_code == 404
    assert rows_of(client.get(f"{URL}?truststoreType=est").json()) == []
    assert client.post(URL, {"path": "/x"}, format="json").status_code == 405
