"""`manage.py bootstrap_demo --json`: the contract of DESIGN.md, idempotent."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from accounts.models import ApiToken
from accounts.roles import Role, roles_of
from audit.models import AuditEvent
from pki.models import Domain

pytestmark = pytest.mark.django_db

USERS = ("admin", "operator", "ra_officer", "approver", "approver2", "auditor")
ROLE_OF = {
    "admin": Role.ADMIN,
    "operator": Role.OPERATOR,
    "ra_officer": Role.RA_OFFICER,
    "approver": Role.APPROVER,
    "approver2": Role.APPROVER,
    "auditor": Role.AUDITOR,
}


def bootstrap() -> dict[str, Any]:
    out = StringIO()
    call_command("bootstrap_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def logins(demo: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    users = demo["users"]
    return [(name, users[name]) for name in USERS] + [
        (f"custodian{i}", c) for i, c in enumerate(users["custodians"], 1)
    ]


def counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "tokens": ApiToken.objects.count(),
        "domains": Domain.objects.count(),
        "groups": Group.objects.count(),
        "events": AuditEvent.objects.count(),
    }


def test_prints_the_contracts_keys() -> None:
    demo = bootstrap()

    assert demo["domain"] == "demo"
    for key in ("cas", "users", "est", "cmp", "acme"):
        assert isinstance(demo[key], dict), key
    assert set(demo["users"]) >= {*USERS, "custodians"}
    assert len(demo["users"]["custodians"]) == 3
    for name, login in logins(demo):
        assert set(login) >= {"username", "password", "token"}, name
        assert all(isinstance(v, str) and v for v in login.values()), name
    assert len({login["username"] for _, login in logins(demo)}) == 9
    assert len({login["token"] for _, login in logins(demo)}) == 9
    assert set(demo["cas"]) >= {"root", "issuing"}
    # EST, CMP and ACME are filled in by the issues that build them; once present they
    # follow the contract.
    if demo["est"]:
        assert set(demo["est"]) >= {"username", "password"}
    if demo["cmp"]:
        assert set(demo["cmp"]) >= {"reference", "secret"}
    if demo["acme"]:
        assert demo["acme"]["directory"] == "/acme/demo/directory"


def test_tokens_and_passwords_work() -> None:
    demo = bootstrap()
    domain = Domain.objects.get(slug="demo")

    for name, login in logins(demo):
        client = Client(
            raise_request_exception=False, headers={"Authorization": f"Token {login['token']}"}
        )
        response = client.get("/api/v1/me")
        assert response.status_code == 200, (name, response.content)
        body = response.json()
        assert body["username"] == login["username"]
        assert "demo" in body["domains"], name

        user = authenticate(username=login["username"], password=login["password"])
        assert user is not None, f"{name}'s password does not log in"
        assert user.is_active
        expected = Role.CUSTODIAN if name.startswith("custodian") else ROLE_OF[name]
        assert expected in roles_of(user, domain), name
        assert authenticate(username=login["username"], password="wrong") is None

    admin = get_user_model().objects.get(username=demo["users"]["admin"]["username"])
    assert admin.is_superuser and admin.is_staff
    ra = get_user_model().objects.get(username=demo["users"]["ra_officer"]["username"])
    assert not ra.is_superuser and not ra.is_staff


def test_running_twice_changes_nothing_and_prints_the_same() -> None:
    first = bootstrap()
    before = counts()

    second = bootstrap()

    assert second == first
    assert counts() == before
    assert Domain.objects.filter(slug="demo").count() == 1
    token = first["users"]["operator"]["token"]
    client = Client(raise_request_exception=False, headers={"Authorization": f"Token {token}"})
    assert client.get("/api/v1/me").status_code == 200


def test_plain_output_names_every_login() -> None:
    out = StringIO()
    call_command("bootstrap_demo", stdout=out)
    text = out.getvalue()
    demo = bootstrap()
    for _, login in logins(demo):
        assert login["username"] in text
        assert login["password"] in text


def test_demo_cas_and_profiles_issue_under_demo_test() -> None:
    from pki.models import CertificateAuthority, Profile

    demo = bootstrap()
    root = CertificateAuthority.objects.get(slug=demo["cas"]["root"])
    issuing = CertificateAuthority.objects.get(slug=demo["cas"]["issuing"])
    assert issuing.parent == root and root.parent is None
    names = set(Profile.objects.filter(domain__slug="demo").values_list("name", flat=True))
    assert names >= {"tls-server", "tls-client", "device"}
    for profile in Profile.objects.filter(domain__slug="demo"):
        assert profile.current_version == 1  # running twice made no new version


def device_state() -> list[tuple[Any, ...]]:
    from enrollment.cmp.models import CmpSecret
    from enrollment.models import Device, EnrollmentCredential

    return [
        *Device.objects.order_by("pk").values_list("name", "onboarding_state", "updated_at"),
        *CmpSecret.objects.order_by("pk").values_list("reference", "device_id", "sealed"),
        *EnrollmentCredential.objects.order_by("pk").values_list("username", "digest"),
    ]


def test_devices_one_per_onboarding_method_made_once() -> None:
    from enrollment.cmp.models import CmpSecret
    from enrollment.cmp.services import find_secret, secret_value
    from enrollment.models import Device

    demo = bootstrap()
    assert demo["devices"] == ["plc-0001", "sensor-0001", "gateway-0001", "printer-0001"]
    devices = {d.name: d for d in Device.objects.filter(domain__slug="demo")}
    assert {n: (d.onboarding_method, d.onboarding_state) for n, d in devices.items()} == {
        "plc-0001": ("cmp_shared_secret", "pending"),
        "sensor-0001": ("est_credential", "pending"),
        "gateway-0001": ("browser", "pending"),
        "printer-0001": ("none", "not_required"),
    }
    ra = get_user_model().objects.get(username=demo["users"]["ra_officer"]["username"])
    assert all(d.created_by == ra for d in devices.values())
    created = AuditEvent.objects.filter(action="enrollment.device.created")
    assert created.count() == 4
    # The PLC has its own CMP secret, usable (it unseals) and not the demo's shared one,
    # and its value is printed nowhere.
    own = CmpSecret.objects.get(device=devices["plc-0001"])
    assert own.active
    assert find_secret(own.domain, own.reference.encode()) == own
    value = secret_value(own).decode()
    assert value != demo["cmp"]["secret"] and len(value) >= 16
    out = StringIO()
    call_command("bootstrap_demo", stdout=out)
    assert value not in out.getvalue() and value not in json.dumps(demo)

    before = (device_state(), counts())
    assert bootstrap() == demo
    assert (device_state(), counts()) == before  # no rows, no audit events
