"""Devices with an onboarding method, the direct PKCS#12 download of a domain credential
(operators: certs.issue; never an RA officer), and EST's first certificate through a device's
own credential becoming its domain credential."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from accounts.roles import Role
from audit.models import AuditEvent
from enrollment import services
from enrollment.models import Device, DeviceCertificate
from pki.models import Domain, IssuedCertificate
from tests.conftest import MakeUser
from tests.enrollment.conftest import certs_of, make_csr, post
from tests.enrollment.onboarding_helpers import PASSWORD, open_pkcs12
from tests.enrollment.test_api import basic

pytestmark = pytest.mark.django_db


def login(make_user: MakeUser, name: str, role: Role, domain: Domain) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(make_user(name, role, domain))
    return client


def device(domain: Domain, method: str = Device.Onboarding.MANUAL_PKCS12) -> Device:
    return services.create_device(domain, None, name="pump-1", onboarding_method=method)


def form(password: str = PASSWORD, again: str | None = None) -> dict[str, str]:
    return {"password": password, "password_again": password if again is None else again}


def test_the_method_is_chosen_when_the_device_is_made(domain: Domain, est_pki, make_user):
    rita = login(make_user, "rita", Role.RA_OFFICER, domain)
    added = rita.post(
        "/devices/", {"domain": "alpha", "name": "cam-1", "onboarding_method": "browser"}
    )
    assert added.status_code == 302
    cam = Device.objects.get(name="cam-1")
    assert (cam.onboarding_method, cam.onboarding_state) == ("browser", "pending")
    page = rita.get(f"/devices/{cam.pk}/").content.decode()
    assert "one-time browser link" in page and "waiting for its domain credential" in page
    bad = rita.post("/devices/", {"domain": "alpha", "name": "x", "onboarding_method": "carrier"})
    assert bad.status_code == 400 and not Device.objects.filter(name="x").exists()
    made = services.create_device(domain, None, name="plain")
    assert (made.onboarding_method, made.onboarding_state) == ("none", "not_required")


def test_an_operator_downloads_a_pkcs12_that_openssl_opens_and_verifies(
    domain: Domain, est_pki, make_user: MakeUser, tmp_path: Path
) -> None:
    pump = device(domain)
    olga = login(make_user, "olga", Role.OPERATOR, domain)
    assert olga.get(f"/devices/{pump.pk}/pkcs12").status_code == 200
    answer = olga.post(f"/devices/{pump.pk}/pkcs12", form())
    assert answer.status_code == 200, answer.content[:500]
    assert answer["Content-Type"] == "application/x-pkcs12"
    assert "no-store" in answer["Cache-Control"]
    cert = IssuedCertificate.objects.get()
    assert answer["Content-Disposition"] == f'attachment; filename="{cert.serial}.p12"'
    pems = open_pkcs12(answer.content, tmp_path)
    assert len(pems) == 3  # leaf, issuing CA, root
    pump.refresh_from_db()
    assert pump.domain_credential == cert and pump.onboarding_state == "onboarded"
    assert pump.onboarding_method == "manual_pkcs12"
    assert cert.subject == "CN=pump-1" and cert.profile_version.profile.name == "device"
    assert cert.requester == "user:olga"
    assert DeviceCertificate.objects.get(certificate=cert).device == pump
    page = olga.get(f"/devices/{pump.pk}/").content.decode()
    assert f"/certificates/{cert.serial}/" in page and "holds a domain credential" in page
    assert AuditEvent.objects.filter(action="enrollment.device.onboarded").count() == 1


def test_bad_passwords_and_no_onboarding_issue_nothing(domain: Domain, est_pki, make_user):
    pump = device(domain)
    olga = login(make_user, "olga", Role.OPERATOR, domain)
    short = olga.post(f"/devices/{pump.pk}/pkcs12", form("short"))
    assert short.status_code == 400
    differ = olga.post(f"/devices/{pump.pk}/pkcs12", form(again="another password here"))
    assert differ.status_code == 400 and b"the two passwords differ" in differ.content
    plain = services.create_device(domain, None, name="plain")
    refused = olga.post(f"/devices/{plain.pk}/pkcs12", form())
    assert refused.status_code == 409 and b"no onboarding" in refused.content
    assert not IssuedCertificate.objects.exists()


def test_the_profile_still_decides(domain: Domain, est_pki, make_user) -> None:
    pump = services.create_device(
        domain, None, name="x" * 70, onboarding_method=Device.Onboarding.MANUAL_PKCS12
    )
    olga = login(make_user, "olga", Role.OPERATOR, domain)
    refused = olga.post(f"/devices/{pump.pk}/pkcs12", form())
    assert refused.status_code in (400, 403) and b"Nothing was issued" in refused.content
    assert not IssuedCertificate.objects.exists()
    pump.refresh_from_db()
    assert pump.onboarding_state == "pending"
    assert AuditEvent.objects.filter(action="enrollment.device.pkcs12_refused").count() == 1


def test_an_ra_officer_may_not_issue_directly_but_sees_why(domain: Domain, est_pki, make_user):
    pump = device(domain)
    rita = login(make_user, "rita", Role.RA_OFFICER, domain)
    page = rita.get(f"/devices/{pump.pk}/").content.decode()
    assert 'data-testid="pkcs12-disabled"' in page and "disabled" in page
    assert "an RA officer may request but never issue" in page
    assert 'data-testid="link-new"' in page  # the one-time link is theirs to make
    assert rita.get(f"/devices/{pump.pk}/pkcs12").status_code == 403
    assert rita.post(f"/devices/{pump.pk}/pkcs12", form()).status_code == 403
    auditor = login(make_user, "audrey", Role.AUDITOR, domain)
    page = auditor.get(f"/devices/{pump.pk}/").content.decode()
    assert 'data-testid="link-new"' not in page
    assert auditor.post(f"/devices/{pump.pk}/pkcs12", form()).status_code == 403
    assert auditor.post(f"/devices/{pump.pk}/onboarding-links").status_code == 403
    assert not IssuedCertificate.objects.exists()


def test_another_domains_device_is_404(domain: Domain, other_domain: Domain, est_pki, make_user):
    pump = device(domain)
    outsider = login(make_user, "otto", Role.OPERATOR, other_domain)
    assert outsider.get(f"/devices/{pump.pk}/pkcs12").status_code == 404
    assert outsider.post(f"/devices/{pump.pk}/pkcs12", form()).status_code == 404
    assert outsider.post(f"/devices/{pump.pk}/onboarding-links").status_code == 404
    assert not IssuedCertificate.objects.exists()


def test_the_api_downloads_for_operators_only(
    domain: Domain, other_domain: Domain, est_pki, make_user, api_client_for, tmp_path: Path
) -> None:
    pump = device(domain)
    path = f"/api/v1/devices/{pump.pk}/pkcs12"
    rita = api_client_for(make_user("rita", Role.RA_OFFICER, domain))
    refused = rita.post(path, {"password": PASSWORD}, format="json")
    assert refused.status_code == 403 and "certs.issue" in refused.json()["detail"]
    otto = api_client_for(make_user("otto", Role.OPERATOR, other_domain))
    assert otto.post(path, {"password": PASSWORD}, format="json").status_code == 404
    olga = api_client_for(make_user("olga", Role.OPERATOR, domain))
    short = olga.post(path, {"password": "short"}, format="json")
    assert short.status_code == 400 and "12 characters" in str(short.json()["detail"])
    assert not IssuedCertificate.objects.exists()
    answer = olga.post(path, {"password": PASSWORD}, format="json")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/x-pkcs12"
    assert answer["Cache-Control"] == "no-store"
    open_pkcs12(answer.content, tmp_path)
    detail = olga.get(f"/api/v1/devices/{pump.pk}").json()
    cert = IssuedCertificate.objects.get()
    assert detail["onboarding_method"] == "manual_pkcs12"
    assert detail["onboarding_state"] == "onboarded"
    assert detail["domain_credential"]["serial"] == cert.serial
    assert detail["domain_credential"]["url"] == f"/api/v1/certificates/{cert.serial}"
    assert [c["serial"] for c in detail["certificates"]] == [cert.serial]


def test_the_api_makes_devices_with_a_method(domain: Domain, make_user, api_client_for) -> None:
    rita = api_client_for(make_user("rita", Role.RA_OFFICER, domain))
    made = rita.post(
        "/api/v1/devices",
        {"domain": "alpha", "name": "p", "onboarding_method": "est_credential"},
        format="json",
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["onboarding_method"] == "est_credential" and body["onboarding_state"] == "pending"
    assert body["domain_credential"] is None
    bad = rita.post(
        "/api/v1/devices",
        {"domain": "alpha", "name": "q", "onboarding_method": "owl"},
        format="json",
    )
    assert bad.status_code == 400 and not Device.objects.filter(name="q").exists()


def test_est_first_certificate_through_the_devices_credential_is_its_domain_credential(
    domain: Domain, est_pki
) -> None:
    pump = device(domain, Device.Onboarding.EST_CREDENTIAL)
    _, secret = services.create_credential(domain, None, username="pump-1", device=pump)
    client = Client(raise_request_exception=False)
    url = "/.well-known/est/alpha/simpleenroll"
    first = post(client, url, make_csr("pump-1.alpha.test").b64, basic("pump-1", secret))
    assert first.status_code == 200
    [cert] = certs_of(first.content)
    pump.refresh_from_db()
    assert pump.onboarding_state == "onboarded" and pump.onboarding_method == "est_credential"
    assert pump.domain_credential is not None
    assert int(pump.domain_credential.serial, 16) == cert.serial_number
    credential = pump.domain_credential
    second = post(client, url, make_csr("pump-1.alpha.test").b64, basic("pump-1", secret))
    assert second.status_code == 200
    pump.refresh_from_db()
    assert pump.domain_credential == credential  # the first one stays the domain credential
    assert AuditEvent.objects.filter(action="enrollment.device.onboarded").count() == 1

    # A device set to another method, or a credential of no device, onboards nothing.
    other = services.create_device(
        domain, None, name="cam", onboarding_method=Device.Onboarding.BROWSER
    )
    _, other_secret = services.create_credential(domain, None, username="cam", device=other)
    assert post(client, url, make_csr().b64, basic("cam", other_secret)).status_code == 200
    other.refresh_from_db()
    assert other.onboarding_state == "pending" and other.domain_credential is None


def test_a_new_domain_credential_revokes_the_superseded_one(
    domain: Domain, est_pki, make_user: MakeUser
) -> None:
    from enrollment import onboarding_links, onboarding_pkcs12
    from pki.models import Revocation

    pump = device(domain)
    olga = make_user("olga", Role.OPERATOR, domain)
    first = onboarding_pkcs12.download(pump, olga, PASSWORD).certificate
    again = onboarding_pkcs12.download(pump, olga, PASSWORD).certificate  # a lost file
    first.refresh_from_db()
    assert first.status == "revoked" and Revocation.objects.get(certificate=first).reason == (
        "superseded"
    )
    # Then a one-time link (another method) supersedes the second.
    made = onboarding_links.create_link(pump, make_user("rita", Role.RA_OFFICER, domain))
    third = onboarding_links.redeem(made.token, PASSWORD).certificate
    again.refresh_from_db()
    pump.refresh_from_db()
    assert again.status == "revoked" and pump.domain_credential == third
    assert third.status == "valid" and pump.onboarding_method == "browser"
    events = AuditEvent.objects.filter(action="enrollment.device.onboarded").order_by("pk")
    assert [e.details["superseded"] for e in events] == [None, first.serial, again.serial]
    revoked = AuditEvent.objects.filter(action="ca.certificate.revoked").order_by("pk")
    assert [e.details["requester"] for e in revoked] == [
        "onboarding:manual_pkcs12 device:pump-1",
        "onboarding:browser device:pump-1",
    ]
