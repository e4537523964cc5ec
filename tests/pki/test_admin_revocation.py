"""Revoking from the admin: one action per reason, through pki.services.revocation (which
checks certs.revoke in each certificate's domain); the revocation records are read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.roles import Role
from pki.models import IssuedCertificate, Revocation
from pki.services.issuance import IssueRequest, issue

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/pki/issuedcertificate/"


@pytest.fixture
def cert(pki, domain, people, make_csr) -> IssuedCertificate:
    request = IssueRequest(
        domain=domain, profile="tls-server", csr=make_csr(), protocol="api", user=people.operator
    )
    return issue(request).certificate


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def act(client: Client, action: str, cert: IssuedCertificate):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [cert.pk]}, follow=True)


def test_an_admin_revokes_and_releases_a_hold(cert, make_user) -> None:
    client = login(make_user("boss", is_superuser=True, is_staff=True))
    response = act(client, "revoke_certificateHold", cert)
    assert f"{cert.serial}: revoked" in response.content.decode()
    assert Revocation.objects.get(certificate=cert).reason == "certificateHold"
    response = act(client, "release_hold", cert)
    assert "hold released" in response.content.decode()
    cert.refresh_from_db()
    assert cert.status == "valid"
    act(client, "revoke_keyCompromise", cert)
    assert Revocation.objects.get(certificate=cert).reason == "keyCompromise"
    for model in ("revocation", "crl", "crlseries", "ocspresponder", "ocspresponse"):
        assert client.get(f"/admin/pki/{model}/").status_code == 200
        assert client.post(f"/admin/pki/{model}/add/", {}).status_code == 403


def test_staff_without_certs_revoke_in_the_domain_is_refused(cert, domain, make_user) -> None:
    auditor = make_user("aude", Role.AUDITOR, domain, is_staff=True)
    auditor.user_permissions.add(*Permission.objects.filter(codename="view_issuedcertificate"))
    response = act(login(auditor), "revoke_keyCompromise", cert)
    cert.refresh_from_db()
    assert cert.status == "valid"
    assert response.status_code in (200, 403)
