"""Revoking from the certificate page: the form is there for those who may revoke, the
service decides, a forged POST from someone else changes nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from accounts.roles import Role
from pki.models import IssuedCertificate, Revocation
from pki.services.issuance import IssueRequest, issue
from tests.conftest import MakeUser
from tests.console.helpers import logged_in
from tests.pki import conftest as pki_fixtures

pki = pki_fixtures.pki
make_csr = pki_fixtures.make_csr

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(pki, domain, make_user: MakeUser) -> User:
    return make_user("olga", Role.OPERATOR, domain)


@pytest.fixture
def cert(domain, operator, make_csr) -> IssuedCertificate:
    request = IssueRequest(
        domain=domain, profile="tls-server", csr=make_csr(), protocol="api", user=operator
    )
    return issue(request).certificate


def page(cert: IssuedCertificate) -> str:
    return f"/certificates/{cert.serial}/"


def test_an_operator_revokes_from_the_page(operator, cert) -> None:
    client = logged_in(operator)
    assert 'data-testid="revoke-form"' in client.get(page(cert)).content.decode()
    response = client.post(
        f"{page(cert)}revoke", {"reason": "keyCompromise", "invalidity_date": ""}, follow=True
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "revoked (keyCompromise)" in html
    assert 'data-testid="revocation"' in html
    assert 'data-testid="revoke-form"' not in html
    assert Revocation.objects.get(certificate=cert).reason == "keyCompromise"


def test_a_hold_is_released_from_the_page(operator, cert) -> None:
    client = logged_in(operator)
    client.post(f"{page(cert)}revoke", {"reason": "certificateHold"})
    assert 'data-testid="release"' in client.get(page(cert)).content.decode()
    response = client.post(f"{page(cert)}release", follow=True)
    assert "hold on" in response.content.decode().lower()
    cert.refresh_from_db()
    assert cert.status == "valid"


def test_a_bad_reason_is_shown_and_nothing_changes(operator, cert) -> None:
    response = logged_in(operator).post(f"{page(cert)}revoke", {"reason": "stolen"}, follow=True)
    assert "Not revoked" in response.content.decode()
    assert not Revocation.objects.exists()


def test_an_ra_officer_sees_no_form_and_a_forged_post_changes_nothing(
    cert, domain, make_user: MakeUser
) -> None:
    client = logged_in(make_user("rachel", Role.RA_OFFICER, domain))
    assert 'data-testid="revoke-form"' not in client.get(page(cert)).content.decode()
    response = client.post(f"{page(cert)}revoke", {"reason": "keyCompromise"}, follow=True)
    assert "certs.revoke" in response.content.decode()
    cert.refresh_from_db()
    assert cert.status == "valid"


def test_another_domains_operator_gets_404(cert, other_domain, make_user: MakeUser) -> None:
    client = logged_in(make_user("otto", Role.OPERATOR, other_domain))
    assert client.post(f"{page(cert)}revoke", {"reason": "keyCompromise"}).status_code == 404
    assert not Revocation.objects.exists()
