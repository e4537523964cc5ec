"""The PKI admin: everything loads, nothing is added, changed or deleted there (CAs come from
ceremonies, certificates from issue(), profiles from versioned saves), key references and
sealed secrets are never shown, and the ceremony action keeps the quorum rule."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client

from accounts.roles import Role
from pki.models import Ceremony, CertificateAuthority, IssuedCertificate, Profile
from pki.services import profiles
from pki.services import requests as cert_requests
from pki.services.issuance import IssueRequest, issue
from tests.pki.helpers import TLS_SERVER, admin_run_operation, import_secret

MODELS = ["certificateauthority", "ceremony", "profile", "issuedcertificate", "certificaterequest"]


@pytest.fixture
def admin_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("boss", is_superuser=True, is_staff=True))
    return client


@pytest.fixture
def filled(pki, domain, people, make_user, make_csr):
    """One of everything: CAs, a pending ceremony, a profile with two versions, an issued
    certificate, a certificate request."""
    root, issuing = pki
    profiles.save_profile(
        domain, "tls-server", {**TLS_SERVER, "validity_days": 30}, issuing, comment="shorter"
    )
    issued = issue(
        IssueRequest(
            domain=domain,
            profile="tls-server",
            csr=make_csr(),
            protocol="api",
            user=people.operator,
        )
    )
    officer = make_user("rita", Role.RA_OFFICER, domain)
    request = cert_requests.submit(domain, "tls-server", make_csr("req.alpha.test"), officer)
    ceremony = people.start(Ceremony.Operation.CREATE_ROOT, {"slug": "alpha-admin-root"})
    return {
        "root": root,
        "issuing": issuing,
        "certificate": issued.certificate,
        "request": request,
        "ceremony": ceremony,
        "profile": Profile.objects.get(name="tls-server"),
    }


@pytest.mark.parametrize("model", MODELS)
def test_changelists_and_detail_pages_load(admin_client, filled, model):
    response = admin_client.get(f"/admin/pki/{model}/")
    assert response.status_code == 200
    obj = {
        "certificateauthority": filled["issuing"],
        "ceremony": filled["ceremony"],
        "profile": filled["profile"],
        "issuedcertificate": filled["certificate"],
        "certificaterequest": filled["request"],
    }[model]
    detail = admin_client.get(f"/admin/pki/{model}/{obj.pk}/change/")
    assert detail.status_code == 200
    # read-only: no save buttons
    assert b'name="_save"' not in detail.content
    if model == "profile":  # both versions, read-only, in the inline
        assert b"shorter" in detail.content
        assert detail.context["inline_admin_formsets"][0].formset.queryset.count() == 2


def test_changelist_search_and_filters(admin_client, filled):
    response = admin_client.get("/admin/pki/certificateauthority/", {"q": "issuing"})
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [filled["issuing"]]
    response = admin_client.get("/admin/pki/certificateauthority/", {"kind__exact": "root"})
    assert list(response.context["cl"].queryset) == [filled["root"]]
    response = admin_client.get(
        "/admin/pki/issuedcertificate/", {"q": filled["certificate"].serial}
    )
    assert list(response.context["cl"].queryset) == [filled["certificate"]]
    response = admin_client.get("/admin/pki/ceremony/", {"state__exact": "pending"})
    assert list(response.context["cl"].queryset) == [filled["ceremony"]]


@pytest.mark.parametrize("model", MODELS)
def test_add_is_forbidden(admin_client, filled, model):
    assert admin_client.get(f"/admin/pki/{model}/add/").status_code == 403
    assert admin_client.post(f"/admin/pki/{model}/add/", {}).status_code == 403


def test_no_change_or_delete_of_cas_and_certificates(admin_client, filled):
    ca, cert = filled["issuing"], filled["certificate"]
    before = bytes(ca.certificate)
    response = admin_client.post(
        f"/admin/pki/certificateauthority/{ca.pk}/change/",
        {"slug": "renamed", "status": "retired", "key_ref": "sealed:forged"},
    )
    assert response.status_code == 403
    for url in (
        f"/admin/pki/certificateauthority/{ca.pk}/delete/",
        f"/admin/pki/issuedcertificate/{cert.pk}/delete/",
    ):
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        "/admin/pki/issuedcertificate/",
        {"action": "delete_selected", "_selected_action": [cert.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)  # "no action selected": delete is not offered
    ca.refresh_from_db()
    assert ca.slug == "alpha-issuing" and ca.status == "active" and bytes(ca.certificate) == before
    assert IssuedCertificate.objects.filter(pk=cert.pk).exists()
    assert CertificateAuthority.objects.count() == 2


def test_key_refs_and_sealed_secrets_are_never_shown(admin_client, filled, people):
    root, issuing = filled["root"], filled["issuing"]
    secret = import_secret(ec.generate_private_key(ec.SECP256R1()))
    pending = people.start(Ceremony.Operation.IMPORT, {"slug": "ext-shown"}, secret=secret)
    sealed = bytes(pending.sealed_secret)
    pages = [
        "/admin/pki/certificateauthority/",
        f"/admin/pki/certificateauthority/{root.pk}/change/",
        f"/admin/pki/certificateauthority/{issuing.pk}/change/",
        "/admin/pki/ceremony/",
        f"/admin/pki/ceremony/{pending.pk}/change/",
    ]
    hidden = [
        root.key_ref,
        issuing.key_ref,
        "sealed:",
        "key_ref",
        "Key ref",
        "sealed_secret",
        "Sealed secret",
        base64.b64encode(sealed).decode(),
        sealed.hex(),
        "PRIVATE KEY",
    ]
    for page in pages:
        body = admin_client.get(page).content.decode()
        for text in hidden:
            assert text not in body, (page, text[:20])
    detail = admin_client.get(f"/admin/pki/certificateauthority/{issuing.pk}/change/")
    assert b"-----BEGIN CERTIFICATE-----" in detail.content  # the certificate is public


def test_run_action_refuses_without_quorum_and_runs_with_it(admin_client, filled, people):
    ceremony = people.approve(filled["ceremony"], 1)

    def run_action():
        return admin_run_operation(admin_client, ceremony)

    response = run_action()
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert messages == [
        ("error", f"refused: ceremony #{ceremony.pk} has 1 of 2 custodian approvals")
    ]
    assert not CertificateAuthority.objects.filter(slug="alpha-admin-root").exists()

    people.approve(ceremony, 2)
    response = run_action()
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert messages == [("success", f"ceremony #{ceremony.pk} done: ca alpha-admin-root")]
    assert CertificateAuthority.objects.get(slug="alpha-admin-root").ceremony_id == ceremony.pk

    response = run_action()  # a second run: refused, nothing new
    texts = [str(m) for m in response.context["messages"]]
    assert len(texts) == 1 and "already run" in texts[0]
    assert CertificateAuthority.objects.filter(slug="alpha-admin-root").count() == 1


def test_run_action_needs_the_propose_permission(filled, people, make_user):
    """A staff user who may see ceremonies but not propose them in the domain runs nothing."""
    from django.contrib.auth.models import Permission

    clerk = make_user("clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_ceremony"))
    client = Client()
    client.force_login(clerk)
    ceremony = people.approve(filled["ceremony"], 2)
    response = admin_run_operation(client, ceremony)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        f"ceremony #{ceremony.pk}: you do not hold ceremonies.propose in domain alpha"
    ]
    assert not CertificateAuthority.objects.filter(slug="alpha-admin-root").exists()
