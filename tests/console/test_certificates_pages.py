"""The certificate pages and the RA split: an RA officer requests and never issues, even with a
forged "Issue now"; an operator issues at once; the profile's reasons reach the page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.roles import Role
from approvals.models import ApprovalRequest
from pki.models import CertificateRequest, Domain, IssuedCertificate
from pki.services import issuance
from tests.conftest import MakeUser
from tests.console.helpers import logged_in
from tests.pki import conftest as pki_fixtures
from tests.pki.conftest import MakeCsr

# The local PKI (root, issuing CA, tls-server for *.alpha.test) and CSRs of tests/pki.
pki = pki_fixtures.pki
make_csr = pki_fixtures.make_csr

pytestmark = pytest.mark.django_db

NEW = "/certificates/new"
PROFILE = "alpha/tls-server"


def form(csr: bytes, action: str, **extra: str) -> dict[str, str]:
    return {"profile": PROFILE, "csr": csr.decode(), "comment": "", "action": action, **extra}


@pytest.fixture
def officer(pki, domain: Domain, make_user: MakeUser) -> User:
    return make_user("rachel", Role.RA_OFFICER, domain)


@pytest.fixture
def operator(pki, domain: Domain, make_user: MakeUser) -> User:
    return make_user("olga", Role.OPERATOR, domain)


def test_ra_officer_sees_no_issue_now_button(officer: User) -> None:
    page = logged_in(officer).get(NEW)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Request (needs approval)" in html
    assert "Issue now" not in html
    assert 'value="issue"' not in html
    assert "alpha / tls-server" in html


def test_forged_issue_now_from_an_ra_officer_is_refused_and_issues_nothing(
    officer: User, make_csr: MakeCsr
) -> None:
    before = IssuedCertificate.objects.count()
    response = logged_in(officer).post(NEW, form(make_csr("app.alpha.test"), "issue"))
    assert response.status_code == 403
    assert "you do not hold certs.issue in domain alpha" in response.content.decode()
    assert IssuedCertificate.objects.count() == before
    assert not CertificateRequest.objects.exists()


def test_ra_officer_request_waits_for_approval(officer: User, make_csr: MakeCsr) -> None:
    client = logged_in(officer)
    response = client.post(NEW, form(make_csr("app.alpha.test"), "request", comment="for app"))

    request = CertificateRequest.objects.get()
    assert request.state == CertificateRequest.State.PENDING
    assert request.requested_by == officer
    assert request.comment == "for app"
    assert request.approval is not None
    assert request.approval.state == ApprovalRequest.State.PENDING
    assert response.status_code == 302
    assert response["Location"] == f"/approvals/{request.approval.pk}/"
    assert not IssuedCertificate.objects.exists()

    approval = client.get(response["Location"]).content.decode()
    assert "someone else must decide it" in approval
    listing = client.get("/certificates/").content.decode()
    assert f"#{request.pk}" in listing
    assert "pending" in listing


def test_request_from_an_uploaded_csr_file(officer: User, make_csr: MakeCsr) -> None:
    upload = SimpleUploadedFile("app.csr", make_csr("file.alpha.test"))
    data = {"profile": PROFILE, "csr": "", "csr_file": upload, "action": "request"}
    response = logged_in(officer).post(NEW, data)
    assert response.status_code == 302
    assert CertificateRequest.objects.get().subject == "CN=file.alpha.test"


def test_operator_issues_now_and_sees_the_certificate(operator: User, make_csr: MakeCsr) -> None:
    client = logged_in(operator)
    assert "Issue now" in client.get(NEW).content.decode()

    response = client.post(NEW, form(make_csr("now.alpha.test"), "issue"))

    cert = IssuedCertificate.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/certificates/{cert.serial}/"
    assert cert.requester == "user:olga"
    detail = client.get(response["Location"])
    html = detail.content.decode()
    assert detail.status_code == 200
    assert cert.serial in html
    assert "CN=now.alpha.test" in html
    assert "now.alpha.test" in html
    assert "tls-server v1" in html
    assert "valid" in html
    assert "-----BEGIN CERTIFICATE-----" in html
    assert f"/api/v1/certificates/{cert.serial}/pem" in html
    assert f"Certificate {cert.serial} issued." in html

    # The download links work with the console's session (leaf, then the issuing CA).
    pem = client.get(f"/api/v1/certificates/{cert.serial}/pem")
    assert pem.status_code == 200
    assert pem.content.count(b"-----BEGIN CERTIFICATE-----") == 2
    der = client.get(f"/api/v1/certificates/{cert.serial}/der")
    assert der.status_code == 200
    assert der.content == bytes(cert.der)

    listing = client.get("/certificates/").content.decode()
    assert f"/certificates/{cert.serial}/" in listing


def test_a_double_submitted_issue_now_issues_once(operator: User, make_csr: MakeCsr) -> None:
    client = logged_in(operator)
    data = form(make_csr("twice.alpha.test"), "issue", idempotency_key="form-key-1")
    first = client.post(NEW, data)
    second = client.post(NEW, data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert IssuedCertificate.objects.count() == 1


@pytest.mark.parametrize("action", ["request", "issue"])
def test_profile_denial_shows_the_reason(action: str, operator: User, make_csr: MakeCsr) -> None:
    response = logged_in(operator).post(NEW, form(make_csr("www.example.com"), action))
    html = response.content.decode()
    assert response.status_code == 403
    assert "DNS name www.example.com is outside the allowed suffixes" in html
    assert not IssuedCertificate.objects.exists()
    assert not CertificateRequest.objects.exists()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"}, "csr:"),
        ({"csr": ""}, "paste a CSR or upload a CSR file"),
        ({"profile": "beta/tls-server"}, "Select a valid choice"),
        ({"action": "approve"}, "choose"),
    ],
)
def test_bad_input_re_renders_the_form_with_the_reason(
    data: dict[str, str], reason: str, operator: User, make_csr: MakeCsr
) -> None:
    response = logged_in(operator).post(NEW, {**form(make_csr("a.alpha.test"), "issue"), **data})
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not IssuedCertificate.objects.exists()


def test_approver_may_neither_request_nor_issue(pki, domain: Domain, make_user: MakeUser) -> None:
    approver = make_user("alex", Role.APPROVER, domain)
    client = logged_in(approver)
    page = client.get(NEW)
    assert page.status_code == 403
    assert "neither request nor issue" in page.content.decode()
    assert "Request a certificate" not in client.get("/certificates/").content.decode()


def _issue(domain: Domain, cn: str) -> IssuedCertificate:
    from tests.api.conftest import new_csr

    request = issuance.IssueRequest(
        domain=domain, profile="tls-server", csr=new_csr(cn), protocol="api", requester="test"
    )
    return issuance.issue(request).certificate


def test_another_domains_certificate_is_not_found(
    pki, domain: Domain, other_domain: Domain, make_user: MakeUser
) -> None:
    cert = _issue(domain, "hidden.alpha.test")
    outsider = logged_in(make_user("bob", Role.OPERATOR, other_domain))
    assert outsider.get(f"/certificates/{cert.serial}/").status_code == 404
    assert outsider.get(f"/certificates/{cert.serial.lower()}/").status_code == 404
    assert cert.serial not in outsider.get("/certificates/").content.decode()
    insider = logged_in(make_user("ann", Role.APPROVER, domain))
    assert insider.get(f"/certificates/{cert.serial.lower()}/").status_code == 200


def test_list_filters_by_domain_and_subject(pki, domain: Domain, make_user: MakeUser) -> None:
    one = _issue(domain, "one.alpha.test")
    two = _issue(domain, "two.alpha.test")
    client = logged_in(make_user("ann", Role.APPROVER, domain))
    everything = client.get("/certificates/").content.decode()
    assert everything.index(two.serial) < everything.index(one.serial)  # newest first
    only_two = client.get("/certificates/", {"q": "two.alpha"}).content.decode()
    assert two.serial in only_two and one.serial not in only_two
    elsewhere = client.get("/certificates/", {"domain": "beta"}).content.decode()
    assert one.serial not in elsewhere and "No certificate matches" in elsewhere


def test_list_filters_by_ca_profile_status_and_expiry(
    pki, domain: Domain, make_user: MakeUser
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from pki.services import revocation

    soon = _issue(domain, "soon.alpha.test")
    later = _issue(domain, "later.alpha.test")
    gone = _issue(domain, "gone.alpha.test")
    IssuedCertificate.objects.filter(pk=soon.pk).update(
        not_after=timezone.now() + timedelta(days=3)
    )
    revocation.revoke(gone, "keyCompromise")
    client = logged_in(make_user("ann", Role.APPROVER, domain))

    def listed(**params: str) -> set[str]:
        page = client.get("/certificates/", params)
        assert page.status_code == 200
        return {c.serial for c in page.context["page"].object_list}

    everything = {soon.serial, later.serial, gone.serial}
    assert listed(ca=pki[1].slug) == everything and listed(ca=pki[0].slug) == set()
    assert listed(profile="tls-server") == everything and listed(profile="nope") == set()
    assert listed(status="revoked") == {gone.serial}
    assert listed(status="valid") == {soon.serial, later.serial}
    assert listed(expires_within="7") == {soon.serial}
    assert listed(expires_within="junk") == everything  # ignored, not a 500

    detail = client.get(f"/certificates/{gone.serial}/")
    assert [e.action for e in detail.context["trail"]] == ["ca.issue", "ca.certificate.revoked"]


@pytest.mark.parametrize("path", ["/certificates/", NEW, "/certificates/0A/"])
def test_anonymous_is_sent_to_login(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_anonymous_post_issues_nothing(pki, make_csr: MakeCsr) -> None:
    response = Client().post(NEW, form(make_csr("anon.alpha.test"), "issue"))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert not IssuedCertificate.objects.exists()


def test_nav_links_to_certificates(officer: User) -> None:
    html = logged_in(officer).get("/certificates/").content.decode()
    assert '<a href="/certificates/" aria-current="page">Certificates</a>' in html


def test_check_shows_the_profile_verdict_and_submits_nothing(
    officer: User, make_csr: MakeCsr
) -> None:
    client = logged_in(officer)
    good = client.post(NEW, form(make_csr("ok.alpha.test"), "check"))
    assert good.status_code == 200 and good.context["verdict"].allowed
    assert "The profile accepts this CSR" in good.content.decode()
    bad = client.post(NEW, form(make_csr("www.elsewhere.test", key="rsa1024"), "check"))
    assert bad.status_code == 200 and not bad.context["verdict"].allowed
    reasons = " ".join(bad.context["verdict"].reasons)
    assert "RSA-1024" in reasons and "www.elsewhere.test" in reasons
    junk = client.post(NEW, form(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "check"))
    assert junk.status_code == 200 and junk.context["verdict"].reasons[0].startswith("csr:")
    assert not CertificateRequest.objects.exists() and not IssuedCertificate.objects.exists()
    assert not ApprovalRequest.objects.exists()
