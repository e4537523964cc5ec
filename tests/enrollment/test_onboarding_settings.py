"""A domain's onboarding settings (least privilege): the console page and
/api/v1/onboarding-configs/<domain>. devices.manage changes them, others read; bad values are
400 with the reason and change nothing; another domain is 404."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from accounts.roles import Role
from enrollment import onboarding
from enrollment.models import OnboardingConfig
from enrollment.models.onboarding import ALL_OPERATIONS
from pki.models import Domain
from tests.conftest import MakeUser

pytestmark = pytest.mark.django_db
PAGE = "/domains/alpha/onboarding"
API = "/api/v1/onboarding-configs/alpha"


def login(make_user: MakeUser, name: str, role: Role, domain: Domain) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(make_user(name, role, domain))
    return client


def test_the_ra_officer_narrows_the_operations_in_the_console(domain: Domain, est_pki, make_user):
    rita = login(make_user, "rita", Role.RA_OFFICER, domain)
    page = rita.get(PAGE)
    assert page.status_code == 200
    text = page.content.decode()
    for op in ALL_OPERATIONS:
        assert f'value="{op}"' in text
    assert "EST" in text and "CMP" in text and "disabled by the admins" in text  # CMP is off
    saved = rita.post(
        PAGE,
        {
            "allowed_operations": ["est.cacerts", "est.simpleenroll", "cmp.ir"],
            "idevid_enabled": "on",
            "idevid_serial_patterns": "SN-\\d{4}\n\nACME-[A-Z]+\n",
            "credential_profile": "device",
        },
    )
    assert saved.status_code == 302, saved.content.decode()[:1000]
    found = OnboardingConfig.objects.get(domain=domain)
    assert found.allowed_operations == ["cmp.ir", "est.cacerts", "est.simpleenroll"]
    assert found.idevid_enabled and found.idevid_serial_patterns == ["SN-\\d{4}", "ACME-[A-Z]+"]
    assert not onboarding.operation_allowed(domain, "est", "simplereenroll")
    shown = rita.get(PAGE).content.decode()
    boxes = dict(re.findall(r'<input type="checkbox"[^>]*value="([a-z.]+)"([^>]*)>', shown))
    assert "checked" in boxes["est.cacerts"] and "checked" in boxes["cmp.ir"]
    assert "checked" not in boxes["est.csrattrs"]


def test_bad_values_change_nothing(domain: Domain, est_pki, make_user) -> None:
    rita = login(make_user, "rita", Role.RA_OFFICER, domain)
    bad_regex = rita.post(
        PAGE,
        {
            "allowed_operations": ["est.cacerts"],
            "idevid_enabled": "on",
            "idevid_serial_patterns": "SN-(",
            "credential_profile": "device",
        },
    )
    assert bad_regex.status_code == 400 and b"not a regular expression" in bad_regex.content
    unknown_op = rita.post(
        PAGE, {"allowed_operations": ["cmp.teleport"], "credential_profile": "device"}
    )
    assert unknown_op.status_code == 400
    no_profile = rita.post(PAGE, {"allowed_operations": [], "credential_profile": "nope"})
    assert no_profile.status_code == 400
    assert not OnboardingConfig.objects.exists()


def test_readers_read_and_outsiders_see_nothing(
    domain: Domain, other_domain: Domain, est_pki, make_user
) -> None:
    auditor = login(make_user, "audrey", Role.AUDITOR, domain)
    page = auditor.get(PAGE)
    assert page.status_code == 200 and b'data-testid="read-only"' in page.content
    assert b'<button type="submit">Save</button>' not in page.content
    assert b'data-testid="save-disabled">Save</button>' in page.content  # shown, with why
    posted = auditor.post(PAGE, {"allowed_operations": [], "credential_profile": "device"})
    assert posted.status_code == 403
    outsider = login(make_user, "otto", Role.RA_OFFICER, other_domain)
    assert outsider.get(PAGE).status_code == 404
    assert outsider.post(PAGE, {"allowed_operations": []}).status_code == 404
    assert not OnboardingConfig.objects.exists()


def test_the_api_reads_and_changes_the_settings(
    domain: Domain, other_domain: Domain, est_pki, make_user, api_client_for
) -> None:
    rita = api_client_for(make_user("rita", Role.RA_OFFICER, domain))
    read = rita.get(API)
    assert read.status_code == 200
    assert read.json() == {
        "domain": "alpha",
        "enabledProtocols": ["api", "est"],
        "allowedOperations": ALL_OPERATIONS,
        "idevidEnabled": False,
        "idevidSerialPatterns": [],
        "credentialProfile": "device",
    }
    changed = rita.put(
        API,
        {
            "allowedOperations": ["est.cacerts", "cmp.genm"],
            "idevidEnabled": True,
            "idevidSerialPatterns": ["SN-\\d+"],
        },
        format="json",
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert body["allowedOperations"] == ["cmp.genm", "est.cacerts"] and body["idevidEnabled"]
    assert rita.get("/api/v1/onboarding-configs").json()["results"][0]["domain"] == "alpha"

    for bad, reason in (
        ({"allowedOperations": ["cmp.teleport"]}, "cmp.teleport"),
        ({"idevidSerialPatterns": ["SN-("]}, "not a regular expression"),
        ({"credentialProfile": "nope"}, "no profile"),
        ({"idevidEnabled": False, "colour": "red"}, "unknown field"),
    ):
        answer = rita.put(API, bad, format="json")
        assert answer.status_code == 400 and reason in answer.content.decode(), answer.content
    found = OnboardingConfig.objects.get(domain=domain)
    assert found.idevid_enabled and found.idevid_serial_patterns == ["SN-\\d+"]

    auditor = api_client_for(make_user("audrey", Role.AUDITOR, domain))
    assert auditor.get(API).status_code == 200
    refused = auditor.put(API, {"idevidEnabled": False}, format="json")
    assert refused.status_code == 403 and "devices.manage" in refused.json()["detail"]
    otto = api_client_for(make_user("otto", Role.RA_OFFICER, other_domain))
    assert otto.get(API).status_code == 404
    assert otto.put(API, {"idevidEnabled": False}, format="json").status_code == 404
    assert OnboardingConfig.objects.get(domain=domain).idevid_enabled


def test_operations_are_grouped_per_protocol_with_its_state(
    domain: Domain, est_pki, make_user
) -> None:
    from enrollment.models.onboarding import OPERATIONS

    rita = login(make_user, "rita", Role.RA_OFFICER, domain)
    text = rita.get(PAGE).content.decode()
    assert text.count('<input type="checkbox" name="allowed_operations"') == len(ALL_OPERATIONS)
    for protocol, ops in OPERATIONS.items():
        group = text.split(f'data-testid="ops-{protocol}"')[1].split("</ul>")[0]
        heading = group.split("</h3>")[0]
        # alpha enables EST only (CMP is off): each heading says which.
        state = "enabled" if protocol == "est" else "disabled by the admins"
        assert f"{protocol.upper()} " in heading and f">{state}</span>" in heading, heading
        values = re.findall(r'value="([a-z0-9.]+)"', group)
        assert values == [f"{protocol}.{op}" for op in ops]
    css = (Path(__file__).parents[2] / "console/static/console/console.css").read_text()
    assert ".op-groups { display: grid; grid-template-columns: repeat(2," in css
    assert "style=" not in text.split('data-testid="operations"')[1].split("</fieldset>")[0]
