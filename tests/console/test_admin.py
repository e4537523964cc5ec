"""The Django admin: admins only, every change audited, audit events read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client

from accounts.models import ApiToken
from accounts.roles import Role
from audit.models import AuditEvent
from audit.services import record
from pki.models import Domain

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    admin = User.objects.create_superuser("root", "root@example.test", "pw")
    client = Client()
    client.force_login(admin)
    return client


def test_creating_a_domain_in_the_admin_writes_an_audit_event(admin_client):
    response = admin_client.post(
        "/admin/pki/domain/add/",
        {
            "slug": "gamma",
            "name": "Gamma",
            "enabled_protocols": '["api", "est"]',
            "description": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    domain = Domain.objects.get(slug="gamma")
    event = AuditEvent.objects.get(action="pki.domain.created", object_id=str(domain.pk))
    assert event.actor_name == "root"
    assert event.details["via"] == "admin"


def test_admin_refuses_unknown_protocols(admin_client):
    response = admin_client.post(
        "/admin/pki/domain/add/",
        {"slug": "delta", "name": "Delta", "enabled_protocols": '["gopher"]'},
    )
    assert response.status_code == 200
    assert "unknown protocols: gopher" in response.content.decode()
    assert not Domain.objects.filter(slug="delta").exists()


def test_audit_events_cannot_be_changed_or_deleted_in_the_admin(admin_client, domain):
    with transaction.atomic():
        event = record("test.something", domain=domain, obj=domain)
    assert admin_client.get("/admin/audit/auditevent/").status_code == 200
    change = admin_client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "x"})
    assert change.status_code in (403, 200)
    delete = admin_client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    event.refresh_from_db()
    assert event.action != "x"


def test_token_minted_in_the_admin_is_shown_once_and_stored_hashed(admin_client, make_user):
    user = make_user("svc")
    response = admin_client.post(
        "/admin/accounts/apitoken/add/", {"user": user.pk, "name": "ci"}, follow=True
    )
    text = response.content.decode()
    assert "The new token is anc_" in text
    key = text.split("The new token is ")[1].split(" ")[0]
    token = ApiToken.objects.get(user=user, name="ci")
    assert key not in {token.digest, token.prefix}
    assert AuditEvent.objects.filter(
        action="accounts.token.created", object_id=str(token.pk)
    ).exists()


def test_ra_officer_cannot_enter_the_admin(domain, make_user):
    client = Client()
    client.force_login(make_user("ra", Role.RA_OFFICER, domain))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


OUR_APPS = {"accounts", "approvals", "audit", "pki", "truststores", "enrollment", "console"}


def test_every_model_of_ours_is_in_the_admin_and_its_list_opens(admin_client):
    from django.apps import apps
    from django.contrib import admin

    models = [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]
    assert models
    for model in models:
        assert admin.site.is_registered(model), model
        opts = model._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        assert admin_client.get(url).status_code == 200, url
        assert admin_client.get(url, {"q": "x"}).status_code == 200, url


def said(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_admin_actions_go_through_the_services(admin_client, domain, make_user, tmp_path):
    from pki.crypto.keys import KeyAlgorithm
    from pki.services import hierarchy
    from tests.truststores.certs import good_bundle
    from truststores import deploy, services
    from truststores.models import DeploymentTarget

    _root, issuing = hierarchy.create_local_pki(domain, KeyAlgorithm.EC_P256)
    answer = admin_client.post(
        "/admin/pki/certificateauthority/",
        {"action": "publish_crls", "_selected_action": [issuing.pk]},
        follow=True,
    )
    assert said(answer) == [f"{issuing.slug}: CRLs queued"]
    assert AuditEvent.objects.filter(action="pki.crl.requested", object_id=str(issuing.pk)).exists()

    sam = make_user("sam", Role.RA_OFFICER, domain)
    ann = make_user("ann", Role.APPROVER, domain)
    pending = services.submit(domain, sam, name="p", truststore_type="est", bundle=good_bundle())
    DeploymentTarget.objects.create(
        domain=domain,
        truststore_type="mtls",
        path=str(tmp_path / "m.pem"),
        reload_command=["false"],
    )
    failed = services.approve(
        services.submit(domain, sam, name="f", truststore_type="mtls", bundle=good_bundle()), ann
    )
    assert deploy.deploy(failed.pk) == deploy.Outcome.FAILED
    answer = admin_client.post(
        "/admin/truststores/truststorerequest/",
        {"action": "retry_deployment", "_selected_action": [pending.pk, failed.pk]},
        follow=True,
    )
    [queued, refused] = said(answer)  # newest first
    assert refused.startswith(f"#{pending.pk}: truststore request #{pending.pk} is Pending")
    assert queued == f"#{failed.pk}: deployment queued"
    assert AuditEvent.objects.filter(action="truststores.deploy.retried").count() == 1
