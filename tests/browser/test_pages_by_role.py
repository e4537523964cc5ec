"""Every console page, opened in Chromium by each role of domain `alpha` and by an RA officer
of another domain: the right ones answer 200 with no script or console error, the others
refuse (403, or 404 for another domain's object, which stays unknown).

With ANCHORAGE_SCREENSHOTS_DIR set (bin/screenshots sets docs/screenshots), the walk also
keeps a screenshot of each main page as the admin sees it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from accounts.roles import Role
from approvals.models import ApprovalRequest
from audit import chain
from audit.models import AuditEvent
from enrollment import onboarding_links
from enrollment import services as enrollment
from enrollment.cmp import services as cmp_services
from pki.models import Domain, IssuedCertificate
from pki.services.issuance import IssueRequest, issue
from tests.browser.test_login import log_in
from tests.conftest import MakeUser
from tests.pki import conftest as pki_fixtures
from tests.pki.conftest import MakeCsr
from tests.pki.helpers import People
from tests.truststores.certs import good_bundle
from tests.truststores.certs import make as make_ca
from truststores import services as truststores
from truststores.estate import catalog, inventory, removal

pki = pki_fixtures.pki
people = pki_fixtures.people
make_csr = pki_fixtures.make_csr

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = ["admin", "operator", "ra_officer", "approver", "custodian", "auditor", "outsider"]
ALL = set(ROLES)
ALPHA = ALL - {"outsider"}


def walk(objects: dict[str, Any]) -> list[tuple[str, str, set[str], set[str]]]:
    """(name, path, roles that get 200, roles that get 404); every other role gets 403."""
    serial, tsr, ceremony, event, device, token = (
        objects[k] for k in ("serial", "tsr", "ceremony", "event", "device", "token")
    )
    consumer, trust_list, plan, fp = (
        objects[k] for k in ("consumer", "trust_list", "plan", "ca_fingerprint")
    )
    cmp_device = objects["cmp_device"]
    return [
        ("dashboard", "/", ALL, set()),
        ("approvals", "/approvals/", ALL, set()),
        ("certificates", "/certificates/", ALL, set()),
        (
            "certificate-new",
            "/certificates/new",
            {"admin", "operator", "ra_officer", "outsider"},
            set(),
        ),
        ("certificate-keygen", "/certificates/new-key", {"admin", "operator"}, set()),
        ("certificate", f"/certificates/{serial}/", ALPHA, {"outsider"}),
        ("profiles", "/profiles/", ALL, set()),
        ("profile", "/profiles/alpha/tls-server/", ALPHA, {"outsider"}),
        ("profile-edit", "/profiles/alpha/tls-server/edit", {"admin", "ra_officer"}, {"outsider"}),
        ("cas", "/cas/", ALL, set()),
        ("ceremony-new", "/ceremonies/new", {"admin", "operator"}, set()),
        ("ceremony", f"/ceremonies/{ceremony}/", ALPHA, {"outsider"}),
        ("truststores", "/truststores/?type=mtls", ALL, set()),
        (
            "truststore-new",
            "/truststores/new?type=mtls",
            {"admin", "ra_officer", "outsider"},
            set(),
        ),
        ("truststore", f"/truststores/{tsr}/", ALPHA, {"outsider"}),
        ("devices", "/devices/", ALL, set()),
        ("device", f"/devices/{device}/", ALPHA, {"outsider"}),
        ("device-pkcs12", f"/devices/{device}/pkcs12", {"admin", "operator"}, {"outsider"}),
        ("onboarding-settings", "/domains/alpha/onboarding", ALPHA, {"outsider"}),
        ("cmp-settings", "/domains/alpha/cmp", ALPHA, {"outsider"}),
        ("cmp-device", f"/devices/{cmp_device}/", ALPHA, {"outsider"}),
        ("onboard", f"/onboard/{token}", ALL, set()),  # no login needed; opening uses nothing
        (
            "credential-new",
            "/enrollment-credentials/new",
            {"admin", "operator", "ra_officer", "outsider"},
            set(),
        ),
        ("acme-keys", "/acme-keys/", {"admin", "operator"}, set()),
        ("audit", "/audit/", {"admin", "auditor"}, set()),
        ("audit-event", f"/audit/{event}/", {"admin", "auditor"}, set()),
        ("estate", "/estate/", ALL, set()),
        ("estate-consumers", "/estate/consumers/", ALL, set()),
        ("estate-consumer", f"/estate/consumers/{consumer}/", ALPHA, {"outsider"}),
        ("estate-lists", "/estate/lists/", ALL, set()),
        ("estate-list", f"/estate/lists/{trust_list}/", ALPHA, {"outsider"}),
        ("estate-who-trusts", f"/estate/who-trusts?fingerprint={fp}", ALL, set()),
        ("estate-plans", "/estate/plans/", ALL, set()),
        (
            "estate-plan-new",
            "/estate/plans/new",
            {"admin", "operator", "ra_officer", "outsider"},
            set(),
        ),
        ("estate-plan", f"/estate/plans/{plan}/", ALPHA, {"outsider"}),
        ("estate-maturity", "/estate/maturity", ALL, set()),
    ]


@pytest.fixture
def estate(
    pki: Any, people: People, domain: Domain, other_domain: Domain, make_user: MakeUser,
    make_csr: MakeCsr,
) -> dict[str, Any]:  # fmt: skip
    users = {
        role: make_user(role, Role(role), domain)
        for role in ("admin", "operator", "ra_officer", "approver", "custodian", "auditor")
    }
    users["outsider"] = make_user("outsider", Role.RA_OFFICER, other_domain)
    cert = issue(
        IssueRequest(
            domain, "tls-server", make_csr("www.alpha.test"), "api", user=users["operator"]
        )
    ).certificate
    tsr = truststores.submit(
        domain, users["ra_officer"], name="roots", truststore_type="mtls", bundle=good_bundle()
    )
    ceremony = people.start("rotate", {"ca": pki[1].slug})
    device = enrollment.create_device(
        domain, users["ra_officer"], name="kiosk-7", onboarding_method="browser"
    )
    token = onboarding_links.create_link(device, users["ra_officer"]).token
    cmp_device = enrollment.create_device(
        domain, users["ra_officer"], name="meter-2", onboarding_method="cmp_shared_secret"
    )
    cmp_services.create_secret(domain, users["ra_officer"], reference="walk", device=cmp_device)
    cmp_services.create_secret(domain, users["ra_officer"], reference="walk-domain")
    chain.seal()
    event = AuditEvent.objects.filter(domain=domain).order_by("-id").first()
    assert event is not None and IssuedCertificate.objects.count() == 1
    assert ApprovalRequest.objects.count() == 2
    return {
        **_trust_estate(domain, users["ra_officer"]),
        "users": users,
        "serial": cert.serial,
        "tsr": tsr.pk,
        "ceremony": ceremony.pk,
        "event": event.pk,
        "device": device.pk,
        "cmp_device": cmp_device.pk,
        "token": token,
    }


def _trust_estate(domain: Domain, ra: Any) -> dict[str, Any]:
    """A trust list holding one CA, a consumer following it and a removal plan for the CA."""
    ca = catalog.import_cas(domain, make_ca("Walk Old Root").pem)[0]
    trust_list = catalog.create_list(domain, ra, scope="public", name="Public", slug="public")
    with transaction.atomic():
        catalog.new_version(trust_list, [ca], ra, note="walk")
    consumer = inventory.create_consumer(
        domain,
        ra,
        {"name": "web-1", "kind": "service", "category": "application",
         "distribution": "config_management", "trust_list": "public"},
    )  # fmt: skip
    plan = removal.create_plan(domain, ra, ca, now=timezone.now())
    return {
        "consumer": consumer.pk,
        "trust_list": trust_list.pk,
        "plan": plan.pk,
        "ca_fingerprint": ca.fingerprint,
    }


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_only_its_pages(
    browser: Browser, live_server: Any, estate: dict[str, Any], role: str
) -> None:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_server.url, role, f"pw-{role}")
    wrong: list[str] = []
    for name, path, allowed, hidden in walk(estate):
        response = page.goto(live_server.url + path)
        assert response is not None
        want = 200 if role in allowed else 404 if role in hidden else 403
        if response.status != want:
            wrong.append(f"{name} {path}: {response.status}, wanted {want}")
        elif want == 200:
            assert page.locator("h1").count() >= 1, name  # a page, not an error body
    context.close()
    assert not wrong, f"{role}: " + "; ".join(wrong)
    assert errors == []


def test_screenshots_of_the_main_pages(
    page: Page, live_server: Any, estate: dict[str, Any], tmp_path: Path
) -> None:
    folder = Path(os.environ.get("ANCHORAGE_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    admin = estate["users"]["admin"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    log_in(page, live_server.url, "admin", "pw-admin")
    shots = [(name, path) for name, path, _, _ in walk(estate) if name != "audit-event"]
    for name, path in [*shots, ("admin", "/admin/")]:
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, (name, response and response.status)
        out = folder / f"{name}.png"
        page.screenshot(path=str(out), full_page=True)
        assert out.stat().st_size > 5_000  # a rendered page, not a blank one


def test_an_auditor_verifies_the_chain_from_the_log(
    page: Page, live_server: Any, estate: dict[str, Any]
) -> None:
    log_in(page, live_server.url, "auditor", "pw-auditor")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action starts with").fill("truststores.")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_test_id("audit-events").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("truststores.request.submitted")
    page.get_by_role("button", name="Verify the chain").click()
    expect(page.get_by_test_id("chain-result")).to_contain_text("The chain verifies")
    assert AuditEvent.objects.filter(action="audit.chain.verified").count() == 1
