"""The truststore pages (console/views_truststores.py) with Django's test client: who sees
and does what, per domain; bad bundles refused on the form with nothing stored; the approval
rules of the engine hold on the page; downloads are the stored bytes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase

from accounts.roles import Role, grant_role
from approvals.models import ApprovalRequest
from pki.models import Domain
from tests.conftest import MakeUser
from tests.console.helpers import logged_in
from tests.truststores.certs import chain, failing_bundle, good_bundle
from truststores import deploy, services, tasks
from truststores.models import Deployment, DeploymentTarget, TruststoreRequest

pytestmark = pytest.mark.django_db
State = TruststoreRequest.State


@pytest.fixture
def sam(domain: Domain, make_user: MakeUser) -> User:
    return make_user("sam", Role.RA_OFFICER, domain)


@pytest.fixture
def ann(domain: Domain, make_user: MakeUser) -> User:
    return make_user("ann", Role.APPROVER, domain)


def submitted(domain: Domain, user: User, bundle: bytes | None = None, **kw: Any) -> Any:
    fields: dict[str, Any] = {"name": "roots", "truststore_type": "mtls", **kw}
    return services.submit(domain, user, bundle=bundle or good_bundle(), **fields)


def form(bundle: bytes | None = None, text: str = "", **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "domain": "alpha",
        "truststore_type": "est",
        "name": "EST client CAs",
        "description": "two CAs",
        "bundle_text": text,
        **kw,
    }
    if bundle is not None:
        data["bundle_file"] = SimpleUploadedFile("bundle.pem", bundle)
    return data


def nothing_stored() -> bool:
    return not TruststoreRequest.objects.exists() and not ApprovalRequest.objects.exists()


def test_each_page_renders_for_the_right_role(domain: Domain, sam: User, make_user: MakeUser):
    auditor = make_user("audrey", Role.AUDITOR, domain)
    approver = make_user("appr", Role.APPROVER, domain)
    request = submitted(domain, sam)

    officer = logged_in(sam)
    page = officer.get("/truststores/?type=est").content.decode()
    assert 'href="/truststores/new?type=est&amp;domain=alpha">New request' in page
    assert officer.get("/truststores/new?type=est&domain=alpha").status_code == 200
    assert ">Truststores</a>" in officer.get("/").content.decode()

    for user in (auditor, approver):
        client = logged_in(user)
        page = client.get("/truststores/").content.decode()
        assert f"/truststores/{request.pk}/" in page and "New request" not in page
        assert client.get("/truststores/new").status_code == 403
        assert client.post("/truststores/new", form(good_bundle())).status_code == 403
    detail = logged_in(auditor).get(f"/truststores/{request.pk}/").content.decode()
    assert 'value="approve"' not in detail and "you do not hold truststores.approve" in detail
    assert (
        'value="approve"' in logged_in(approver).get(f"/truststores/{request.pk}/").content.decode()
    )
    assert TruststoreRequest.objects.count() == 1

    nobody = logged_in(make_user("nobody"))
    assert nobody.get("/truststores/").status_code == 403
    assert ">Truststores</a>" not in nobody.get("/").content.decode()
    assert Client().get("/truststores/").status_code == 302  # to the login page


def test_another_domains_user_sees_nothing_of_it(
    domain: Domain, other_domain: Domain, sam: User, make_user: MakeUser
):
    request = submitted(domain, sam)
    olga = logged_in(make_user("olga", Role.ADMIN, other_domain))
    for path in ("", "bundle.pem"):
        assert olga.get(f"/truststores/{request.pk}/{path}").status_code == 404
    for action in ("approve", "reject", "cancel", "retry"):
        answer = olga.post(f"/truststores/{request.pk}/", {"action": action, "comment": "x"})
        assert answer.status_code == 404
    assert olga.get(f"/truststores/new?from={request.pk}").status_code == 404
    assert olga.get("/truststores/?domain=alpha").status_code == 404
    assert "roots" not in olga.get("/truststores/").content.decode()
    assert olga.post("/truststores/new", form(good_bundle())).status_code == 200  # beta only
    assert TruststoreRequest.objects.count() == 1
    request.refresh_from_db()
    assert request.state == State.PENDING


def test_submit_by_upload_shows_the_validation(domain: Domain, sam: User):
    client = logged_in(sam)
    new = client.get("/truststores/new?type=est&domain=alpha").content.decode()
    assert '<option value="est" selected>' in new
    response = client.post("/truststores/new", form(good_bundle("Up")))
    created = TruststoreRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/truststores/{created.pk}/"
    assert (created.truststore_type, created.certificate_count) == ("est", 2)
    assert created.submitted_by == sam and created.approval is not None
    page = client.get(response["Location"]).content.decode()
    assert page.count('<tr class="level-row-pass">') == 2
    assert "CN=Up Issuing CA" in page and "CN=Up Root CA" in page
    assert 'data-testid="verdict">pass<' in page
    assert created.validation_result["certificates"][0]["fingerprint_sha256"] in page


def test_submit_by_paste_and_der(domain: Domain, sam: User, tmp_path: Path):
    client = logged_in(sam)
    assert client.post("/truststores/new", form(text=good_bundle().decode())).status_code == 302
    root, issuing = chain("Der")
    assert client.post("/truststores/new", form(root.der)).status_code == 302
    (tmp_path / "b.pem").write_bytes(issuing.pem + root.pem)
    p7 = subprocess.run(
        ["openssl", "crl2pkcs7", "-nocrl", "-certfile", str(tmp_path / "b.pem"), "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    assert client.post("/truststores/new", form(p7)).status_code == 302
    counts = list(
        TruststoreRequest.objects.order_by("id").values_list("certificate_count", flat=True)
    )
    assert counts == [2, 1, 2]
    p7_request = TruststoreRequest.objects.order_by("id").reverse()[0]
    assert p7_request.bundle == (issuing.pem + root.pem).decode()  # converted to PEM


_root, _issuing = chain("Bad")
BAD: dict[str, tuple[bytes | None, str, str]] = {
    "not pem": (b"just some text, not a bundle", "", "bundle refused"),
    "binary junk": (bytes(range(256)) * 4, "", "bundle refused"),
    "empty file": (b"", "", "bundle refused"),
    "blank paste": (None, "   \n", "upload a bundle file or paste"),
    "truncated pem": (None, _root.pem.decode()[:-40], "bundle refused"),
    "10 MB": (_root.pem * (10 * 1024 * 1024 // len(_root.pem) + 1), "", "larger than 5 MB"),
    "key in file": (_issuing.pem + _issuing.key_pem + _root.pem, "", "private key"),
    "key pasted": (None, (_issuing.pem + _issuing.key_pem).decode(), "private key"),
    "both": (_root.pem, _root.pem.decode(), "not both"),
}


@pytest.mark.parametrize("label", list(BAD))
def test_bad_bundles_show_the_reason_and_store_nothing(label: str, domain: Domain, sam: User):
    bundle, text, reason = BAD[label]
    response = logged_in(sam).post("/truststores/new", form(bundle, text))
    assert response.status_code == 200, label
    page = response.content.decode()
    assert reason in page and "Nothing was stored" in page, (label, page[-3000:])
    assert nothing_stored(), label
    assert "BEGIN PRIVATE KEY" not in page, label  # a refused paste is never echoed back


@pytest.mark.parametrize(
    "junk",
    [
        {"truststore_type": "ldap"},
        {"domain": "beta"},
        {"name": ""},
        {"name": "x" * 300},
        {"name": "a\x00b"},
        {"bundle_file": "", "bundle_text": "☃ not a bundle"},
        {"description": "d" * 5000},
    ],
)
def test_junk_fields_are_form_errors(junk: dict[str, Any], domain: Domain, sam: User):
    response = logged_in(sam).post("/truststores/new", {**form(good_bundle()), **junk})
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert nothing_stored()


def test_junk_requests_get_no_500(domain: Domain, sam: User, ann: User):
    request = submitted(domain, sam)
    client = logged_in(ann)
    for path in (
        "/truststores/?type=nope&state=nope&page=zz&domain=",
        "/truststores/new?type=x&domain=y&from=abc",
        "/truststores/new?from=99999999999999999999",
        "/truststores/999999999999999999/",
        "/truststores/99999999999999999999/",
        "/approvals/?kind=nope",
    ):
        assert client.get(path).status_code in {200, 403, 404}, path
    for body in ({}, {"action": "explode"}, {"action": ["approve", "reject"]}):
        response = client.post(f"/truststores/{request.pk}/", body)
        assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == State.PENDING
    assert client.post(f"/truststores/{request.pk}/bundle.pem").status_code == 405


def decide(client: Client, request: Any, action: str, comment: str = "") -> str:
    response = client.post(
        f"/truststores/{request.pk}/", {"action": action, "comment": comment}, follow=True
    )
    assert response.status_code == 200
    request.refresh_from_db()
    return str(response.content.decode())


def test_approve_reject_cancel_rules(domain: Domain, sam: User, ann: User, make_user: MakeUser):
    officer, approver = logged_in(sam), logged_in(ann)
    first = submitted(domain, sam)
    page = officer.get(f"/truststores/{first.pk}/").content.decode()
    assert 'value="approve"' not in page and "someone else must decide it" in page
    assert "someone else must decide it" in decide(officer, first, "approve")
    assert first.state == State.PENDING
    assert "Not done" in decide(approver, first, "cancel")  # not the submitter's
    assert first.state == State.PENDING
    assert "a rejection needs a reason" in decide(approver, first, "reject")
    assert first.state == State.PENDING
    assert "approval recorded" in decide(approver, first, "approve", "fingerprints checked")
    assert first.state == State.APPROVED
    page = approver.get(f"/truststores/{first.pk}/").content.decode()
    assert "ann — <strong>approve</strong>" in page and "fingerprints checked" in page

    second = submitted(domain, sam)
    assert "Cancel my request" in officer.get(f"/truststores/{second.pk}/").content.decode()
    assert "cancelled" in decide(officer, second, "cancel")
    assert second.state == State.CANCELLED
    assert "Not done" in decide(approver, second, "approve")
    assert second.state == State.CANCELLED

    third = submitted(domain, sam)
    decide(approver, third, "reject", "wrong CA")
    assert third.state == State.REJECTED and third.bundle == ""
    page = approver.get(f"/truststores/{third.pk}/").content.decode()
    assert "discarded (Rejected)" in page and "Resubmit this bundle" not in page
    assert approver.get(f"/truststores/{third.pk}/bundle.pem").status_code == 404


def test_a_failing_bundle_cannot_be_approved_on_the_page(domain: Domain, sam: User, ann: User):
    request = submitted(domain, sam, failing_bundle())
    client = logged_in(ann)
    page = client.get(f"/truststores/{request.pk}/").content.decode()
    assert 'class="level-row-fail"' in page and "not_ca" not in page  # messages, not codes
    assert "leaf / end-entity certificate" in page
    assert "failed validation" in decide(client, request, "approve")
    assert request.state == State.PENDING


def test_download_returns_the_stored_pem(domain: Domain, sam: User, make_user: MakeUser):
    request = submitted(domain, sam)
    auditor = logged_in(make_user("audrey", Role.AUDITOR, domain))
    response = auditor.get(f"/truststores/{request.pk}/bundle.pem")
    assert response.status_code == 200
    assert response.content == request.bundle.encode()
    assert response["Content-Type"] == "application/pem-certificate-chain"
    assert f"truststore-mtls-{request.pk}.pem" in response["Content-Disposition"]


def test_deployed_bundle_comparison_and_rollback(domain: Domain, sam: User, ann: User):
    root_a, issuing_a = chain("Alpha")
    first = services.approve(submitted(domain, sam, issuing_a.pem + root_a.pem), ann)
    assert deploy.deploy(first.pk) == deploy.Outcome.READY  # no targets: Ready at once
    tab = logged_in(sam).get("/truststores/?type=mtls").content.decode()
    assert f"(request #{first.pk})" in tab and "CN=Alpha Root CA" in tab
    assert 'data-testid="deployed-count">2<' in tab and "ann" in tab
    assert "No mtls deployment target" in tab
    assert (
        "No est bundle is deployed" in logged_in(sam).get("/truststores/?type=est").content.decode()
    )

    second = submitted(domain, sam, good_bundle("Beta"))
    page = logged_in(ann).get(f"/truststores/{second.pk}/").content.decode()
    assert 'data-testid="removes-warning"' in page and "will stop connecting" in page
    assert page.count('<tr class="removed">') == 2 and page.count('<tr class="added">') == 2

    # Rolling back: the first request's bundle pre-filled in a new request.
    new = logged_in(sam).get(f"/truststores/new?from={first.pk}").content.decode()
    assert f"Rollback to roots (#{first.pk})" in new
    assert "BEGIN CERTIFICATE" in new and '<option value="mtls" selected>' in new
    same = submitted(domain, sam, first.bundle.encode())
    page = logged_in(ann).get(f"/truststores/{same.pk}/").content.decode()
    assert 'data-testid="removes-warning"' not in page and page.count("<td>kept</td>") == 2


def test_failed_deployment_shows_and_can_be_retried(
    domain: Domain, sam: User, ann: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    DeploymentTarget.objects.create(
        domain=domain,
        truststore_type="mtls",
        name="edge nginx",
        path=str(tmp_path / "mtls.pem"),
        reload_command=["false"],
    )
    request = services.approve(submitted(domain, sam), ann)
    assert deploy.deploy(request.pk) == deploy.Outcome.FAILED
    page = logged_in(ann).get(f"/truststores/{request.pk}/").content.decode()
    assert "Retry deployment" in page and "<td>edge nginx</td>" in page
    assert Deployment.objects.get().state == Deployment.State.FAILED
    tab = logged_in(sam).get("/truststores/").content.decode()
    assert "edge nginx" in tab and "<code>false</code>" in tab and ">failed<" in tab
    assert (
        "Retry deployment" not in logged_in(sam).get(f"/truststores/{request.pk}/").content.decode()
    )

    queued: list[int] = []
    monkeypatch.setattr(tasks.deploy_request, "delay", queued.append)
    with TestCase.captureOnCommitCallbacks(execute=True) as with_hooks:
        assert "deployment queued again" in decide(logged_in(ann), request, "retry")
    assert with_hooks and queued == [request.pk]
    assert "Not done" in decide(logged_in(sam), request, "retry")


def test_the_status_json_follows_the_swap(
    domain: Domain, other_domain: Domain, sam: User, ann: User, make_user: MakeUser, tmp_path: Path
):
    target = DeploymentTarget.objects.create(
        domain=domain,
        truststore_type="mtls",
        path=str(tmp_path / "m.pem"),
        reload_command=["false"],
    )
    request = services.approve(submitted(domain, sam), ann)
    url = f"/truststores/{request.pk}/status"
    running = logged_in(sam).get(url).json()
    assert running == {
        "state": "Approved",
        "stateClass": "approved",
        "error": "",
        "deployed": "—",
        "done": False,
    }
    assert (
        'data-progress-url="' + url
        in logged_in(sam).get(f"/truststores/{request.pk}/").content.decode()
    )
    assert deploy.deploy(request.pk) == deploy.Outcome.FAILED
    failed = logged_in(sam).get(url).json()
    assert (
        failed["done"]
        and "exited with 1" in failed["error"]
        and failed["deployed"] == "0 of 1 target"
    )
    target.reload_command = []
    target.save()
    TruststoreRequest.objects.filter(pk=request.pk).update(error="")
    assert deploy.deploy(request.pk) == deploy.Outcome.READY
    ready = logged_in(sam).get(url).json()
    assert ready["state"] == "Ready" and ready["done"]
    assert logged_in(make_user("sven", Role.AUDITOR, other_domain)).get(url).status_code == 404


def test_approvals_queue_shows_truststore_requests_and_leads_to_their_page(
    domain: Domain, sam: User, ann: User
):
    request = submitted(domain, sam)
    client = logged_in(ann)
    assert request.approval_id is not None
    for query in ("", "?kind=truststores.request"):
        assert (
            f"/approvals/{request.approval_id}/"
            in client.get(f"/approvals/{query}").content.decode()
        )
    other = client.get("/approvals/?kind=pki.certificate_request").content.decode()
    assert f"/approvals/{request.approval_id}/" not in other
    response = client.get(f"/approvals/{request.approval_id}/")
    assert response.status_code == 302 and response["Location"] == f"/truststores/{request.pk}/"


def test_several_domains_get_a_selector_and_each_its_own_requests(
    domain: Domain, other_domain: Domain, sam: User, make_user: MakeUser
):
    both = make_user("bo", Role.AUDITOR, domain)
    grant_role(both, Role.RA_OFFICER, other_domain)
    mine = submitted(domain, sam, name="alpha roots")
    theirs = submitted(other_domain, both, name="beta roots")
    client = logged_in(both)
    alpha = client.get("/truststores/").content.decode()
    assert 'id="f-domain"' in alpha and '<option value="beta">' in alpha
    assert "alpha roots" in alpha and "beta roots" not in alpha
    assert "New request" not in alpha  # an auditor in alpha
    beta = client.get("/truststores/?domain=beta").content.decode()
    assert "beta roots" in beta and "alpha roots" not in beta and "New request" in beta
    new = client.get("/truststores/new?type=mtls&domain=alpha").content.decode()
    assert '<option value="alpha"' not in new  # may submit in beta only
    for request in (mine, theirs):
        assert client.get(f"/truststores/{request.pk}/").status_code == 200
    single = logged_in(sam).get("/truststores/").content.decode()
    assert 'id="f-domain"' not in single and "Truststores of alpha" in single
