"""/api/v1/devices and /api/v1/enrollment-credentials: RA officers make and revoke, auditors
read, another domain's objects are 404, the secret is shown once and works for EST."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from accounts.roles import Role
from audit.models import AuditEvent
from enrollment import services
from enrollment.models import EnrollmentCredential
from pki.models import Domain
from tests.enrollment.conftest import make_csr, post

pytestmark = pytest.mark.django_db


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


def test_ra_officer_makes_a_device_and_a_credential_that_enrolls(
    domain: Domain, est_pki, make_user, api_client_for
) -> None:
    ra = api_client_for(make_user("rita", Role.RA_OFFICER, domain))
    made = ra.post(
        "/api/v1/devices",
        {"domain": "alpha", "name": "pump-1", "serial_number": "SN1"},
        format="json",
    )
    assert made.status_code == 201, made.content
    device_id = made.json()["id"]
    created = ra.post(
        "/api/v1/enrollment-credentials",
        {"domain": "alpha", "device": device_id, "username": "pump-1"},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    secret = body["secret"]
    assert len(secret) >= 43 and body["active"] and body["device"] == device_id
    stored = EnrollmentCredential.objects.get(pk=body["id"])
    assert stored.digest == services.secret_digest(secret) and secret not in stored.digest
    # Never again: not in the detail, nor the list, nor the device.
    for path in (
        f"/api/v1/enrollment-credentials/{body['id']}",
        "/api/v1/enrollment-credentials",
        f"/api/v1/devices/{device_id}",
    ):
        assert secret not in ra.get(path).content.decode()

    client = Client(raise_request_exception=False)
    response = post(
        client, "/.well-known/est/alpha/simpleenroll", make_csr().b64, basic("pump-1", secret)
    )
    assert response.status_code == 200
    detail = ra.get(f"/api/v1/devices/{device_id}").json()
    assert [c["username"] for c in detail["credentials"]] == ["pump-1"]
    assert len(detail["certificates"]) == 1 and detail["certificates"][0]["status"] == "valid"

    revoked = ra.post(f"/api/v1/enrollment-credentials/{body['id']}/revoke", {}, format="json")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    again = ra.post(f"/api/v1/enrollment-credentials/{body['id']}/revoke", {}, format="json")
    assert again.status_code == 409
    response = post(
        client, "/.well-known/est/alpha/simpleenroll", make_csr().b64, basic("pump-1", secret)
    )
    assert response.status_code == 401
    assert AuditEvent.objects.filter(action="enrollment.credential.revoked").count() == 1


def test_auditor_reads_but_changes_nothing(
    domain: Domain, est_pki, make_user, api_client_for
) -> None:
    credential, _ = services.create_credential(domain, None, username="c1")
    services.create_device(domain, None, name="d1")
    auditor = api_client_for(make_user("audrey", Role.AUDITOR, domain))
    assert auditor.get("/api/v1/devices").json()["count"] == 1
    assert auditor.get(f"/api/v1/enrollment-credentials/{credential.pk}").status_code == 200
    made = auditor.post("/api/v1/devices", {"domain": "alpha", "name": "x"}, format="json")
    assert made.status_code == 403
    made = auditor.post("/api/v1/enrollment-credentials", {"domain": "alpha"}, format="json")
    assert made.status_code == 403
    revoke = auditor.post(f"/api/v1/enrollment-credentials/{credential.pk}/revoke", {}, "json")
    assert revoke.status_code == 403
    credential.refresh_from_db()
    assert credential.active


def test_another_domains_objects_are_404(
    domain: Domain, other_domain: Domain, make_user, api_client_for
) -> None:
    theirs, _ = services.create_credential(other_domain, None, username="theirs")
    device = services.create_device(other_domain, None, name="their-device")
    ra = api_client_for(make_user("rita", Role.RA_OFFICER, domain))
    assert ra.get(f"/api/v1/enrollment-credentials/{theirs.pk}").status_code == 404
    assert (
        ra.post(f"/api/v1/enrollment-credentials/{theirs.pk}/revoke", {}, "json").status_code == 404
    )
    assert ra.get(f"/api/v1/devices/{device.pk}").status_code == 404
    assert ra.get("/api/v1/devices").json()["count"] == 0
    made = ra.post("/api/v1/devices", {"domain": "beta", "name": "x"}, format="json")
    assert made.status_code == 403
    # Binding a credential to another domain's device is refused.
    made = ra.post(
        "/api/v1/enrollment-credentials",
        {"domain": "alpha", "device": device.pk},
        format="json",
    )
    assert made.status_code == 400
    theirs.refresh_from_db()
    assert theirs.active


def test_duplicates_and_bad_input_are_400(domain: Domain, make_user, api_client_for) -> None:
    ra = api_client_for(make_user("rita", Role.RA_OFFICER, domain))
    ok = ra.post("/api/v1/enrollment-credentials", {"domain": "alpha", "username": "u"}, "json")
    assert ok.status_code == 201
    dup = ra.post("/api/v1/enrollment-credentials", {"domain": "alpha", "username": "u"}, "json")
    assert dup.status_code == 400
    colon = ra.post(
        "/api/v1/enrollment-credentials", {"domain": "alpha", "username": "a:b"}, "json"
    )
    assert colon.status_code == 400
    unknown = ra.post("/api/v1/devices", {"domain": "alpha", "name": "d", "x": 1}, "json")
    assert unknown.status_code == 400
    assert ra.post("/api/v1/devices", {"domain": "alpha", "name": "d"}, "json").status_code == 201
    assert ra.post("/api/v1/devices", {"domain": "alpha", "name": "d"}, "json").status_code == 400
