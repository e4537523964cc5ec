"""One-time browser onboarding links: made by an RA officer (the URL shown once, only its
digest kept), redeemed once without a login for a PKCS#12 that openssl opens; used, expired,
revoked and unknown links are refused with nothing issued; two fetches at once yield one
credential; the API does the same."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from accounts.roles import Role
from audit.models import AuditEvent
from enrollment import onboarding_links, services
from enrollment.models import Device, OnboardingLink
from enrollment.onboarding_links import LinkRefused
from pki.models import Domain, IssuedCertificate
from tests.concurrency import run_together
from tests.conftest import MakeUser
from tests.enrollment.onboarding_helpers import PASSWORD, open_pkcs12

pytestmark = pytest.mark.django_db
FORM = {"password": PASSWORD, "password_again": PASSWORD}


def login(make_user: MakeUser, name: str, role: Role, domain: Domain) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(make_user(name, role, domain))
    return client


def kiosk(domain: Domain) -> Device:
    return services.create_device(
        domain, None, name="kiosk-7", onboarding_method=Device.Onboarding.BROWSER
    )


def link_for(device: Device, make_user: MakeUser) -> tuple[OnboardingLink, str]:
    officer = make_user(f"ra-{device.pk}", Role.RA_OFFICER, device.domain)
    made = onboarding_links.create_link(device, officer)
    return made.link, made.token


def test_the_ra_officer_makes_a_link_that_works_once(
    domain: Domain, est_pki, make_user: MakeUser, tmp_path: Path
) -> None:
    device = kiosk(domain)
    rita = login(make_user, "rita", Role.RA_OFFICER, domain)
    shown = rita.post(f"/devices/{device.pk}/onboarding-links")
    assert shown.status_code == 200 and "no-store" in shown["Cache-Control"]
    url = re.search(r'data-testid="onboarding-url">([^<]+)<', shown.content.decode())
    assert url is not None
    token = url.group(1).rsplit("/onboard/", 1)[1]
    link = OnboardingLink.objects.get()
    assert link.digest == services.secret_digest(token) and token not in link.digest
    assert link.created_by is not None and link.created_by.username == "rita"
    minutes = (link.expires_at - link.created_at).total_seconds() / 60
    assert 59 < minutes <= 60
    # Never again: the device page lists the link but not its URL.
    page = rita.get(f"/devices/{device.pk}/").content.decode()
    assert token not in page and 'data-testid="onboarding-links"' in page

    person = Client(raise_request_exception=False)  # nobody logged in
    opened = person.get(f"/onboard/{token}")
    assert opened.status_code == 200
    assert b"kiosk-7" in opened.content and b"Alpha (alpha)" in opened.content
    assert "unsafe-inline" not in opened["Content-Security-Policy"]
    assert b"<script" not in opened.content and b" style=" not in opened.content
    answer = person.post(f"/onboard/{token}", FORM)
    assert answer.status_code == 200 and answer["Content-Type"] == "application/x-pkcs12"
    assert "no-store" in answer["Cache-Control"]
    assert answer["Content-Disposition"].startswith("attachment;")
    open_pkcs12(answer.content, tmp_path)
    cert = IssuedCertificate.objects.get()
    assert cert.requester == f"onboarding-link:{link.pk}"
    device.refresh_from_db()
    assert device.domain_credential == cert and device.onboarding_method == "browser"
    link.refresh_from_db()
    assert link.used_at is not None and link.certificate == cert

    again = person.get(f"/onboard/{token}")
    assert again.status_code == 410 and b"used already" in again.content
    assert person.post(f"/onboard/{token}", FORM).status_code == 410
    assert IssuedCertificate.objects.count() == 1
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "enrollment.onboarding_link.created",
        "enrollment.onboarding_link.used",
        "enrollment.onboarding_link.refused",
        "enrollment.device.onboarded",
        "ca.issue",
    } <= actions


def test_a_bad_password_leaves_the_link_open(domain: Domain, est_pki, make_user) -> None:
    link, token = link_for(kiosk(domain), make_user)
    person = Client(raise_request_exception=False)
    short = person.post(f"/onboard/{token}", {"password": "short", "password_again": "short"})
    assert short.status_code == 400
    differ = person.post(f"/onboard/{token}", {**FORM, "password_again": "something else!!"})
    assert differ.status_code == 400 and b"the two passwords differ" in differ.content
    link.refresh_from_db()
    assert link.used_at is None and not IssuedCertificate.objects.exists()
    assert person.post(f"/onboard/{token}", FORM).status_code == 200


def test_expired_revoked_and_unknown_links_issue_nothing(domain: Domain, est_pki, make_user):
    person = Client(raise_request_exception=False)
    expired, expired_token = link_for(kiosk(domain), make_user)
    OnboardingLink.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    for answer in (
        person.get(f"/onboard/{expired_token}"),
        person.post(f"/onboard/{expired_token}", FORM),
    ):
        assert answer.status_code == 410 and b"has expired" in answer.content

    other = services.create_device(domain, None, name="cam", onboarding_method="browser")
    revoked, revoked_token = link_for(other, make_user)
    rita = login(make_user, "rita", Role.RA_OFFICER, domain)
    assert rita.post(f"/onboarding-links/{revoked.pk}/revoke").status_code == 302
    revoked.refresh_from_db()
    assert revoked.revoked_at is not None and revoked.revoked_by is not None
    for answer in (
        person.get(f"/onboard/{revoked_token}"),
        person.post(f"/onboard/{revoked_token}", FORM),
    ):
        assert answer.status_code == 410 and b"was revoked" in answer.content
    again = rita.post(f"/onboarding-links/{revoked.pk}/revoke", follow=True)
    assert b"revoked already" in again.content

    unknown = "A" * 43
    for answer in (person.get(f"/onboard/{unknown}"), person.post(f"/onboard/{unknown}", FORM)):
        assert answer.status_code == 404 and b"unknown" in answer.content
    assert person.get("/onboard/short").status_code == 404  # not even a token's shape
    assert not IssuedCertificate.objects.exists()
    assert AuditEvent.objects.filter(action="enrollment.onboarding_link.revoked").count() == 1
    assert AuditEvent.objects.filter(action="enrollment.onboarding_link.refused").count() == 6


def test_who_may_make_and_revoke_links(
    domain: Domain, other_domain: Domain, est_pki, make_user
) -> None:
    device = kiosk(domain)
    link, _ = link_for(device, make_user)
    auditor = login(make_user, "audrey", Role.AUDITOR, domain)
    assert auditor.post(f"/devices/{device.pk}/onboarding-links").status_code == 403
    assert auditor.post(f"/onboarding-links/{link.pk}/revoke").status_code == 403
    outsider = login(make_user, "otto", Role.RA_OFFICER, other_domain)
    assert outsider.post(f"/devices/{device.pk}/onboarding-links").status_code == 404
    assert outsider.post(f"/onboarding-links/{link.pk}/revoke").status_code == 404
    plain = services.create_device(domain, None, name="plain")
    rita = login(make_user, "rita", Role.RA_OFFICER, domain)
    refused = rita.post(f"/devices/{plain.pk}/onboarding-links")
    assert refused.status_code == 409 and b"no onboarding" in refused.content
    assert OnboardingLink.objects.count() == 1
    link.refresh_from_db()
    assert link.revoked_at is None


@pytest.mark.django_db(transaction=True)
def test_two_fetches_at_once_yield_one_credential(domain: Domain, est_pki, make_user) -> None:
    link, token = link_for(kiosk(domain), make_user)
    results = run_together([lambda: onboarding_links.redeem(token, PASSWORD)] * 2)
    refused = [r for r in results if isinstance(r, LinkRefused)]
    made = [r for r in results if not isinstance(r, Exception)]
    assert len(made) == 1 and len(refused) == 1, results
    assert refused[0].status == 410
    assert IssuedCertificate.objects.count() == 1
    link.refresh_from_db()
    assert link.certificate == made[0].certificate


def test_the_api_makes_lists_and_revokes_links(
    domain: Domain, other_domain: Domain, est_pki, make_user, api_client_for
) -> None:
    device = kiosk(domain)
    rita = api_client_for(make_user("rita", Role.RA_OFFICER, domain))
    made = rita.post("/api/v1/onboarding-links", {"device": device.pk}, format="json")
    assert made.status_code == 201, made.content
    assert "no-store" in made["Cache-Control"]
    body = made.json()
    assert body["state"] == "open" and body["device"] == device.pk
    token = body["url"].rsplit("/onboard/", 1)[1]
    assert body["url"].startswith("http://testserver/onboard/")
    listed = rita.get(f"/api/v1/onboarding-links?device={device.pk}").content.decode()
    assert token not in listed and str(body["id"]) in listed
    assert token not in rita.get(f"/api/v1/onboarding-links/{body['id']}").content.decode()

    auditor = api_client_for(make_user("audrey", Role.AUDITOR, domain))
    assert auditor.get(f"/api/v1/onboarding-links/{body['id']}").status_code == 200
    refused = auditor.post("/api/v1/onboarding-links", {"device": device.pk}, format="json")
    assert refused.status_code == 403
    assert (
        auditor.post(f"/api/v1/onboarding-links/{body['id']}/revoke", {}, format="json").status_code
        == 403
    )
    otto = api_client_for(make_user("otto", Role.RA_OFFICER, other_domain))
    assert otto.get(f"/api/v1/onboarding-links/{body['id']}").status_code == 404
    foreign = otto.post("/api/v1/onboarding-links", {"device": device.pk}, format="json")
    assert foreign.status_code == 400

    revoked = rita.post(
        f"/api/v1/onboarding-links/{body['id']}/revoke", {"comment": "lost"}, format="json"
    )
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    twice = rita.post(f"/api/v1/onboarding-links/{body['id']}/revoke", {}, format="json")
    assert twice.status_code == 409
    assert Client().get(f"/onboard/{token}").status_code == 410
    assert not IssuedCertificate.objects.exists()
