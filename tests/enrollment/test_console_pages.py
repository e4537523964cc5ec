"""Console device pages: list, add a device, a new credential whose secret is shown once,
device detail with its credentials and certificates, revoke; auditors read only; another
domain's objects are 404."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.roles import Role
from enrollment import services
from enrollment.models import Device, EnrollmentCredential
from pki.models import Domain
from tests.enrollment.conftest import make_csr, post
from tests.enrollment.test_api import basic

pytestmark = pytest.mark.django_db


def login(user_name: str) -> Client:
    client = Client(raise_request_exception=False)
    assert client.login(username=user_name, password="pw-" + user_name)
    return client


def test_an_ra_officer_adds_a_device_and_its_credential(domain: Domain, est_pki, make_user) -> None:
    make_user("rita", Role.RA_OFFICER, domain)
    rita = login("rita")
    page = rita.get("/devices/")
    assert page.status_code == 200 and b"Add a device" in page.content
    added = rita.post("/devices/", {"domain": "alpha", "name": "pump-3", "serial_number": "S3"})
    assert added.status_code == 302
    device = Device.objects.get(name="pump-3")
    made = rita.post(
        "/enrollment-credentials/new",
        {"domain": "alpha", "device": str(device.pk), "username": "pump-3"},
    )
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    secret = re.search(rb'data-testid="secret">([^<]+)<', made.content)
    assert secret is not None
    password = secret.group(1).decode()
    stored = EnrollmentCredential.objects.get(username="pump-3")
    assert stored.digest == services.secret_digest(password)

    est = Client(raise_request_exception=False)
    response = post(
        est, "/.well-known/est/alpha/simpleenroll", make_csr().b64, basic("pump-3", password)
    )
    assert response.status_code == 200
    detail = rita.get(f"/devices/{device.pk}/")
    assert detail.status_code == 200
    assert b"simpleenroll" in detail.content and b"pump-3" in detail.content
    assert password.encode() not in detail.content  # shown once, never again

    revoked = rita.post(f"/enrollment-credentials/{stored.pk}/revoke")
    assert revoked.status_code == 302
    stored.refresh_from_db()
    assert stored.revoked_at is not None


def test_an_auditor_reads_but_cannot_change(domain: Domain, est_pki, make_user) -> None:
    device = services.create_device(domain, None, name="pump-4")
    credential, _ = services.create_credential(domain, None, username="c4", device=device)
    make_user("audrey", Role.AUDITOR, domain)
    audrey = login("audrey")
    assert b"pump-4" in audrey.get("/devices/").content
    detail = audrey.get(f"/devices/{device.pk}/")
    assert detail.status_code == 200 and b"Revoke" not in detail.content
    assert audrey.get("/enrollment-credentials/new").status_code == 403
    assert audrey.post("/devices/", {"domain": "alpha", "name": "x"}).status_code == 400
    assert audrey.post(f"/enrollment-credentials/{credential.pk}/revoke").status_code == 403
    credential.refresh_from_db()
    assert credential.revoked_at is None and not Device.objects.filter(name="x").exists()


def test_another_domains_device_is_404(domain: Domain, other_domain: Domain, make_user) -> None:
    device = services.create_device(other_domain, None, name="theirs")
    credential, _ = services.create_credential(other_domain, None, username="theirs")
    make_user("rita", Role.RA_OFFICER, domain)
    rita = login("rita")
    assert rita.get(f"/devices/{device.pk}/").status_code == 404
    assert rita.post(f"/enrollment-credentials/{credential.pk}/revoke").status_code == 404
    assert b"theirs" not in rita.get("/devices/").content
    made = rita.post("/enrollment-credentials/new", {"domain": "beta", "username": "x"})
    assert made.status_code == 400
    assert not EnrollmentCredential.objects.filter(username="x").exists()
