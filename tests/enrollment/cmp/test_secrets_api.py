"""/api/v1/cmp-secrets: the secret shown once, RA officers write, auditors read, another
domain's secret is 404; the management command; revoked secrets stop working."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.roles import Role
from enrollment.cmp import services
from enrollment.cmp.models import CmpSecret


def api(user) -> APIClient:
    c = APIClient()
    c.force_authenticate(user)
    return c


def test_create_read_revoke(domain, other_domain, make_user) -> None:
    officer = make_user("ra", Role.RA_OFFICER, domain)
    auditor = make_user("au", Role.AUDITOR, domain)
    made = api(officer).post(
        "/api/v1/cmp-secrets", {"domain": "alpha", "reference": "r1"}, format="json"
    )
    assert made.status_code == 201, made.content
    secret = made.json()["secret"]
    row = CmpSecret.objects.get(reference="r1")
    assert services.secret_value(row) == secret.encode() and secret.encode() not in bytes(
        row.sealed
    )
    listed = api(auditor).get("/api/v1/cmp-secrets").json()
    items = listed["results"] if isinstance(listed, dict) else listed
    assert [i["reference"] for i in items] == ["r1"] and "secret" not in items[0]
    assert (
        api(auditor).post(f"/api/v1/cmp-secrets/{row.pk}/revoke", {}, format="json").status_code
        == 403
    )
    assert (
        api(auditor).post("/api/v1/cmp-secrets", {"domain": "alpha"}, format="json").status_code
        == 403
    )
    stranger = make_user("rb", Role.RA_OFFICER, other_domain)
    assert api(stranger).get(f"/api/v1/cmp-secrets/{row.pk}").status_code == 404
    assert (
        api(officer).post(f"/api/v1/cmp-secrets/{row.pk}/revoke", {}, format="json").status_code
        == 200
    )
    assert services.find_secret(domain, b"r1") is None


def test_management_command(domain) -> None:
    out = StringIO()
    call_command("cmp_secret", "alpha", "--reference", "cli", stdout=out)
    assert "secret " in out.getvalue() and services.find_secret(domain, b"cli") is not None
    call_command("cmp_secret", "alpha", "--revoke", "cli", stdout=StringIO())
    assert services.find_secret(domain, b"cli") is None
