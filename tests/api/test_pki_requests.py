"""/api/v1/certificate-requests: the RA split. An RA officer requests, someone else holding
certs.issue approves, and the engine's task issues the certificate as that approver."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from accounts.roles import Role
from approvals.models import ApprovalRequest
from approvals.tasks import run_action
from audit.models import AuditEvent
from pki.crypto.keys import KeyAlgorithm
from pki.models import CertificateRequest, IssuedCertificate
from pki.services import hierarchy, profiles, requests
from tests.api.conftest import new_csr
from tests.pki.helpers import TLS_SERVER

pytestmark = pytest.mark.django_db

URL = "/api/v1/certificate-requests"


@pytest.fixture
def people(domain, make_user, api_client_for):
    users = {
        "rita": make_user("rita", Role.RA_OFFICER, domain),
        "olga": make_user("olga", Role.OPERATOR, domain),
        "otto": make_user("otto", Role.OPERATOR, domain),
        "abby": make_user("abby", Role.APPROVER, domain),  # certs.approve, not certs.issue
    }
    return SimpleNamespace(**{name: api_client_for(u) for name, u in users.items()}, users=users)


def submit(client, pem: bytes, **overrides):
    body = {
        "domain": "alpha",
        "profile": "tls-server",
        "csr": pem.decode(),
        "comment": "for the web farm",
        **overrides,
    }
    return client.post(URL, body, format="json")


def act(client, request_id: int, verb: str, comment: str = ""):
    return client.post(f"{URL}/{request_id}/{verb}", {"comment": comment}, format="json")


def test_ra_request_approved_by_an_issuer_is_issued_by_the_task(pki, people, make_csr):
    # The RA officer cannot issue directly...
    direct = people.rita.post(
        "/api/v1/certificates",
        {"domain": "alpha", "profile": "tls-server", "csr": make_csr().decode()},
        format="json",
    )
    assert direct.status_code == 403
    # ...but requests.
    response = submit(people.rita, make_csr("www.alpha.test"))
    assert response.status_code == 201, response.content
    body = response.json()
    rid = body["id"]
    assert body["state"] == "pending"
    assert body["approval_state"] == "pending"
    assert body["requested_by"] == "rita"
    assert body["subject"] == "CN=www.alpha.test"
    assert body["profile"] == "tls-server"
    assert body["comment"] == "for the web farm"
    assert body["certificate"] is None
    assert body["approval_id"] == CertificateRequest.objects.get(pk=rid).approval_id

    # The requester holds no certs.issue; an approver without it may not either.
    own = act(people.rita, rid, "approve")
    assert own.status_code == 403 and "certs.issue" in own.json()["detail"]
    assert act(people.abby, rid, "approve").status_code == 403

    approved = act(people.olga, rid, "approve", "checked the SANs")
    assert approved.status_code == 200, approved.content
    assert approved.json()["approval_state"] == "approved"
    assert approved.json()["action_state"] == "queued"
    assert approved.json()["state"] == "pending"
    assert not IssuedCertificate.objects.exists()

    assert run_action(body["approval_id"]) == "done"
    issued = people.rita.get(f"{URL}/{rid}").json()
    assert issued["state"] == "issued"
    assert issued["action_state"] == "done"
    cert = IssuedCertificate.objects.get()
    assert issued["certificate"] == cert.serial
    assert cert.requester == "user:olga"
    assert cert.sans == ["www.alpha.test"]
    assert people.rita.get(f"/api/v1/certificates/{cert.serial}").status_code == 200
    assert act(people.otto, rid, "approve").status_code == 409
    assert AuditEvent.objects.filter(action="certs.request.approved").count() == 1


def test_a_requester_cannot_approve_their_own_request(pki, people, make_csr):
    rid = submit(people.olga, make_csr()).json()["id"]
    own = act(people.olga, rid, "approve")
    assert own.status_code == 403
    assert "submitted" in own.json()["detail"]
    assert ApprovalRequest.objects.get(certificate_request__pk=rid).state == "pending"
    assert act(people.otto, rid, "approve").status_code == 200


def test_rejecting_needs_a_reason_and_certs_issue(pki, people, make_csr):
    rid = submit(people.rita, make_csr()).json()["id"]
    assert act(people.abby, rid, "reject", "no").status_code == 403
    assert act(people.olga, rid, "reject").status_code == 400
    rejected = act(people.olga, rid, "reject", "unknown host")
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["approval_state"] == "rejected"
    assert act(people.otto, rid, "approve").status_code == 409
    assert not IssuedCertificate.objects.exists()


def test_only_the_submitter_cancels(pki, people, make_csr):
    rid = submit(people.rita, make_csr()).json()["id"]
    assert act(people.olga, rid, "cancel").status_code == 403
    cancelled = act(people.rita, rid, "cancel", "wrong CSR")
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert act(people.rita, rid, "cancel").status_code == 409
    assert act(people.olga, rid, "approve").status_code == 409


def test_the_profile_is_checked_at_submission(pki, people, make_csr):
    response = submit(people.rita, make_csr(eku=[ExtendedKeyUsageOID.CODE_SIGNING]))
    assert response.status_code == 403
    assert "codeSigning" in response.json()["detail"]
    outside = submit(people.rita, make_csr("www.example.com"))
    assert outside.status_code == 403
    assert outside.json()["code"] == "profile_denied"
    assert any("outside the allowed suffixes" in r for r in outside.json()["reasons"])
    assert not CertificateRequest.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "status", "reason"),
    [
        ({"csr": "not a csr"}, 400, "csr"),
        ({"profile": "nope"}, 400, "no profile"),
        ({"domain": "nope"}, 400, "no such domain"),
        ({"domain": "beta"}, 403, "certs.request"),
    ],
)
def test_bad_submissions(pki, people, other_domain, overrides, status, reason):
    response = submit(people.rita, new_csr("www.alpha.test"), **overrides)
    assert response.status_code == status, response.content
    assert reason in response.json()["detail"]
    assert not CertificateRequest.objects.exists()


def test_an_auditor_may_not_request(pki, domain, make_user, api_client_for):
    auditor = api_client_for(make_user("aude", Role.AUDITOR, domain))
    assert submit(auditor, new_csr("www.alpha.test")).status_code == 403


def test_non_json_bodies_are_400s(pki, people):
    assert people.rita.post(URL, b"{", content_type="application/json").status_code == 400
    rid = submit(people.rita, new_csr("www.alpha.test")).json()["id"]
    bad = people.olga.post(f"{URL}/{rid}/approve", b'"yes"', content_type="application/json")
    assert bad.status_code == 400
    assert ApprovalRequest.objects.get(certificate_request__pk=rid).state == "pending"


def test_another_domains_request_is_a_404_and_not_listed(pki, people, other_domain, make_user):
    _, issuing = hierarchy.create_local_pki(other_domain, KeyAlgorithm.EC_P256)
    profiles.save_profile(
        other_domain, "tls-server", {**TLS_SERVER, "dns_suffixes": ["beta.test"]}, issuing
    )
    beta = requests.submit(
        other_domain,
        "tls-server",
        new_csr("www.beta.test"),
        make_user("b-ra", Role.RA_OFFICER, other_domain),
    )
    assert people.olga.get(f"{URL}/{beta.pk}").status_code == 404
    assert act(people.olga, beta.pk, "approve").status_code == 404
    assert people.olga.get(URL).json()["count"] == 0
    own = submit(people.rita, new_csr("www.alpha.test")).json()["id"]
    listed = people.olga.get(URL).json()
    assert [r["id"] for r in listed["results"]] == [own]
    assert people.olga.get(f"{URL}?state=issued").json()["count"] == 0
    assert people.olga.get(f"{URL}?domain=beta").json()["count"] == 0
