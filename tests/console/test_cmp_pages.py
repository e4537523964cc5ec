"""CMP in the console: the domain's binding (profile per operation, implicitConfirm) edited by
RA officers and read by everyone else of the domain; shared secrets listed, made (the value
shown once, no-store, with the openssl cmp command line) and revoked; a device's own secret
from its page. Another domain's page, secret or device is a 404."""

from __future__ import annotations

import re

import pytest

from accounts.roles import Role
from audit.models import AuditEvent
from enrollment import services as devices
from enrollment.cmp import services
from enrollment.cmp.models import CmpConfig, CmpSecret
from enrollment.models import Device
from pki.crypto.keys import KeyAlgorithm
from pki.models import Domain
from pki.services.default_profiles import ensure_default_profiles
from pki.services.hierarchy import create_local_pki
from tests.conftest import MakeUser
from tests.console.helpers import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def alpha(domain: Domain) -> Domain:
    _, issuing = create_local_pki(domain, KeyAlgorithm.EC_P256)
    ensure_default_profiles(domain, issuing, ["alpha.test"])
    return domain


def binding(**changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "ir_profile": "device",
        "cr_profile": "device",
        "p10cr_profile": "device",
        "kur_profile": "",
        "allow_implicit_confirm": "on",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def test_an_ra_officer_changes_the_binding_and_others_only_read(
    alpha: Domain, other_domain: Domain, make_user: MakeUser
) -> None:
    rita = logged_in(make_user("rita", Role.RA_OFFICER, alpha))
    page = rita.get("/domains/alpha/cmp")
    assert page.status_code == 200
    assert "/.well-known/cmp/p/alpha" in page.content.decode()
    changed = binding(
        cr_profile="tls-client", kur_profile="tls-client", allow_implicit_confirm=None
    )
    saved = rita.post("/domains/alpha/cmp", changed)
    assert saved.status_code == 302
    found = CmpConfig.objects.get(domain=alpha)
    assert (found.cr_profile, found.kur_profile, found.ir_profile) == (
        "tls-client", "tls-client", "device")  # fmt: skip
    assert found.allow_implicit_confirm is False
    event = AuditEvent.objects.get(action="cmp.configured")
    assert event.details["before"]["cr_profile"] == "device"
    assert event.details["after"]["cr_profile"] == "tls-client"

    # An unknown profile is a 400 and changes nothing.
    bad = rita.post("/domains/alpha/cmp", binding(ir_profile="nope"))
    assert bad.status_code == 400
    assert CmpConfig.objects.get(domain=alpha).ir_profile == "device"

    auditor = logged_in(make_user("audrey", Role.AUDITOR, alpha))
    read = auditor.get("/domains/alpha/cmp")
    assert read.status_code == 200 and 'data-testid="read-only"' in read.content.decode()
    assert "disabled" in read.content.decode()
    assert auditor.post("/domains/alpha/cmp", binding(ir_profile="tls-client")).status_code == 403
    assert CmpConfig.objects.get(domain=alpha).ir_profile == "device"
    assert "cmp-secret-new" not in read.content.decode()

    outsider = logged_in(make_user("bob", Role.RA_OFFICER, other_domain))
    assert outsider.get("/domains/alpha/cmp").status_code == 404
    assert outsider.post("/domains/alpha/cmp", binding()).status_code == 404


def test_a_secret_is_shown_once_with_the_command_line_then_revoked(
    alpha: Domain, other_domain: Domain, make_user: MakeUser
) -> None:
    rita = logged_in(make_user("rita", Role.RA_OFFICER, alpha))
    made = rita.post("/domains/alpha/cmp/secrets", {"reference": "line-3", "description": "hall"})
    assert made.status_code == 200 and "no-store" in made["Cache-Control"]
    value = made.context["value"]
    row = CmpSecret.objects.get(reference="line-3")
    assert services.secret_value(row) == value.encode()
    text = made.content.decode()
    assert f"-ref line-3 -secret pass:{value} -mac hmacWithSHA256" in text
    assert "openssl cmp -cmd ir -server http://testserver/.well-known/cmp/p/alpha" in text
    assert value.encode() not in bytes(row.sealed)
    listing = rita.get("/domains/alpha/cmp").content.decode()
    assert "line-3" in listing and value not in listing and "never" in listing

    # A duplicate reference is refused; another domain's page is unknown.
    assert rita.post("/domains/alpha/cmp/secrets", {"reference": "line-3"}).status_code == 400
    assert rita.post("/domains/beta/cmp/secrets", {"reference": "x"}).status_code == 404

    outsider = logged_in(make_user("bob", Role.RA_OFFICER, other_domain))
    assert outsider.post(f"/cmp-secrets/{row.pk}/revoke").status_code == 404
    auditor = logged_in(make_user("audrey", Role.AUDITOR, alpha))
    assert auditor.post("/domains/alpha/cmp/secrets", {"reference": "y"}).status_code == 403
    assert auditor.post(f"/cmp-secrets/{row.pk}/revoke").status_code == 403
    assert CmpSecret.objects.get(pk=row.pk).revoked_at is None

    revoked = rita.post(f"/cmp-secrets/{row.pk}/revoke")
    assert revoked.status_code == 302 and revoked["Location"] == "/domains/alpha/cmp"
    assert CmpSecret.objects.get(pk=row.pk).revoked_at is not None
    assert AuditEvent.objects.filter(action="cmp.secret.revoked").count() == 1
    assert rita.post(f"/cmp-secrets/{row.pk}/revoke").status_code == 302  # already: a note
    assert AuditEvent.objects.filter(action="cmp.secret.revoked").count() == 1


def test_a_device_onboarding_over_cmp_gets_its_own_secret_from_its_page(
    alpha: Domain, other_domain: Domain, make_user: MakeUser
) -> None:
    pump = devices.create_device(
        alpha, None, name="pump 9", onboarding_method=Device.Onboarding.CMP_SHARED_SECRET
    )
    plain = devices.create_device(alpha, None, name="plain")
    rita = logged_in(make_user("rita", Role.RA_OFFICER, alpha))
    page = rita.get(f"/devices/{pump.pk}/").content.decode()
    assert "Make a CMP secret for this device" in page
    assert "Make a CMP secret" not in rita.get(f"/devices/{plain.pk}/").content.decode()

    made = rita.post(f"/devices/{pump.pk}/cmp-secrets")
    assert made.status_code == 200 and "no-store" in made["Cache-Control"]
    row = CmpSecret.objects.get(device=pump)
    assert re.fullmatch(r"pump-9-[0-9a-f]{6}", row.reference)
    assert f"-ref {row.reference} -secret pass:{made.context['value']}" in made.content.decode()
    page = rita.get(f"/devices/{pump.pk}/").content.decode()
    assert row.reference in page and made.context["value"] not in page

    revoked = rita.post(f"/cmp-secrets/{row.pk}/revoke", {"back": "device"})
    assert revoked["Location"] == f"/devices/{pump.pk}/"

    auditor = logged_in(make_user("audrey", Role.AUDITOR, alpha))
    page = auditor.get(f"/devices/{pump.pk}/").content.decode()
    assert row.reference in page and f"/devices/{pump.pk}/cmp-secrets" not in page
    # the action is shown disabled, with the permission it needs
    assert 'data-testid="device-cmp-secret-disabled"' in page and "needs devices.manage" in page
    assert auditor.post(f"/devices/{pump.pk}/cmp-secrets").status_code == 403
    outsider = logged_in(make_user("bob", Role.RA_OFFICER, other_domain))
    assert outsider.post(f"/devices/{pump.pk}/cmp-secrets").status_code == 404
    assert CmpSecret.objects.filter(device=pump).count() == 1


def test_the_onboarding_settings_page_links_to_cmp(alpha: Domain, make_user: MakeUser) -> None:
    rita = logged_in(make_user("rita", Role.RA_OFFICER, alpha))
    page = rita.get("/domains/alpha/onboarding").content.decode()
    assert 'href="/domains/alpha/cmp"' in page
    # No inline style or script on the new pages (CSP style-src 'self').
    for path in ("/domains/alpha/cmp",):
        text = rita.get(path).content.decode()
        assert "style=" not in text and "<script>" not in text


def test_devices_onboarding_and_cmp_pages_link_to_each_other(
    alpha: Domain, make_user: MakeUser
) -> None:
    auditor = logged_in(make_user("audrey", Role.AUDITOR, alpha))
    listing = auditor.get("/devices/").content.decode()
    assert 'data-testid="no-devices"' in listing  # an empty table says so
    assert 'href="/domains/alpha/cmp"' in listing and 'href="/domains/alpha/onboarding"' in listing
    # a reader sees the action, disabled, with the permission it needs
    assert 'data-testid="credential-new-disabled"' in listing and "devices.manage" in listing
    for page in ("/domains/alpha/onboarding", "/domains/alpha/cmp"):
        text = auditor.get(page).content.decode()
        tabs = text.split('aria-label="Devices"')[1].split("</nav>")[0]
        for href in ('"/devices/"', '"/domains/alpha/onboarding"', '"/domains/alpha/cmp"'):
            assert f"href={href}" in tabs
        assert f'href="{page}" aria-current="page"' in tabs
    rita = logged_in(make_user("rita", Role.RA_OFFICER, alpha))
    meter = devices.create_device(
        alpha, None, name="meter-1", onboarding_method=Device.Onboarding.CMP_SHARED_SECRET
    )
    page = auditor.get(f"/devices/{meter.pk}/").content.decode()
    assert 'href="/domains/alpha/cmp"' in page and "CMP with a shared secret" in page
    assert "cmp_shared_secret" not in page  # the label, never the stored value
    assert 'data-testid="link-new-disabled"' in page
    assert 'data-testid="link-new"' in rita.get(f"/devices/{meter.pk}/").content.decode()
