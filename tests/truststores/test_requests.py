"""Truststore requests through the approval engine: submit, validate, approve, reject,
cancel, race; against PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.roles import Role
from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from config.errors import Conflict, Forbidden
from pki.models import Domain
from tests.concurrency import run_together
from tests.conftest import MakeUser
from tests.truststores.certs import chain, failing_bundle, good_bundle, make
from truststores import services
from truststores.models import TruststoreRequest

State = TruststoreRequest.State


@dataclass
class People:
    sam: User  # submits (RA officer)
    ann: User  # approves
    bob: User  # approves too


@pytest.fixture
def people(domain: Domain, make_user: MakeUser) -> People:
    return People(
        sam=make_user("sam", Role.RA_OFFICER, domain),
        ann=make_user("ann", Role.APPROVER, domain),
        bob=make_user("bob", Role.APPROVER, domain),
    )


def submit(domain: Domain, user: User, bundle: bytes, kind: str = "mtls") -> TruststoreRequest:
    return services.submit(domain, user, name="roots 2026-Q2", truststore_type=kind, bundle=bundle)


def actions(request: TruststoreRequest) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            object_id=str(request.approval_id), action__startswith="truststores."
        )
        .order_by("id")
        .values_list("action", flat=True)
    )


def nothing_stored() -> bool:
    return not TruststoreRequest.objects.exists() and not ApprovalRequest.objects.exists()


@pytest.mark.django_db
def test_a_good_bundle_is_pending_with_its_validation(domain: Domain, people: People) -> None:
    request = submit(domain, people.sam, good_bundle())
    assert request.state == State.PENDING
    assert request.certificate_count == 2
    assert request.validation_result["verdict"] == "pass"
    assert len(request.validation_result["certificates"]) == 2
    assert request.bundle.count("BEGIN CERTIFICATE") == 2
    assert request.comparison["deployed"] is False and len(request.comparison["added"]) == 2
    assert request.approval is not None and request.approval.submitter == people.sam
    assert actions(request) == ["truststores.request.submitted"]


@pytest.mark.django_db
def test_der_and_pkcs7_are_stored_as_pem(domain: Domain, people: People) -> None:
    from pki.crypto.pkcs import certs_only

    root, issuing = chain("Der")
    for data in (root.der, certs_only([issuing.der, root.der])):
        request = submit(domain, people.sam, data)
        assert request.bundle.startswith("-----BEGIN CERTIFICATE-----")
        assert request.certificate_count == services.as_pem(data).count("BEGIN CERTIFICATE")


@pytest.mark.django_db
def test_a_failing_bundle_is_stored_but_cannot_be_approved(domain: Domain, people: People) -> None:
    request = submit(domain, people.sam, failing_bundle())
    assert request.state == State.PENDING
    assert request.validation_result["verdict"] == "fail"
    assert request.certificate_count == 3
    with pytest.raises(Conflict) as refused:
        services.approve(request, people.ann)
    assert refused.value.code == "validation_failed"
    request.refresh_from_db()
    assert request.state == State.PENDING
    assert request.approval is not None and request.approval.state == "pending"
    assert not request.approval.decisions.exists()  # the decision rolled back with it
    # It can still be rejected.
    services.reject(request, people.ann, "incomplete: holds a leaf")
    assert request.state == State.REJECTED


_root, _issuing = chain("Bad")
BAD_BUNDLES: dict[str, bytes] = {
    "not pem": b"hello, this is not a certificate bundle\n",
    "truncated pem": good_bundle()[:700],
    "binary junk": bytes(range(256)) * 8,
    "empty": b"",
    "10 MB": (_root.pem * (10 * 1024 * 1024 // len(_root.pem) + 1)),
    "private key": _issuing.pem + _issuing.key_pem + _root.pem,
}


@pytest.mark.django_db
@pytest.mark.parametrize("label", list(BAD_BUNDLES))
def test_unusable_bundles_are_refused_and_nothing_is_stored(
    label: str, domain: Domain, people: People
) -> None:
    with pytest.raises(ValidationError) as refused:
        submit(domain, people.sam, BAD_BUNDLES[label])
    assert "bundle refused" in "; ".join(refused.value.messages)
    assert nothing_stored()
    assert not AuditEvent.objects.filter(action__startswith="truststores.").exists()


@pytest.mark.django_db
def test_submitting_needs_the_permission(domain: Domain, people: People) -> None:
    with pytest.raises(Forbidden):
        submit(domain, people.ann, good_bundle())
    assert nothing_stored()


@pytest.mark.django_db
def test_the_submitter_cannot_approve_their_own_request(
    domain: Domain, people: People, make_user: MakeUser
) -> None:
    admin = make_user("ada", Role.ADMIN, domain)  # holds submit and approve both
    request = submit(domain, admin, good_bundle())
    with pytest.raises(Forbidden):
        services.approve(request, admin)
    assert request.state == State.PENDING


@pytest.mark.django_db
def test_approval_moves_to_approved_and_no_further(domain: Domain, people: People) -> None:
    request = submit(domain, people.sam, good_bundle())
    services.approve(request, people.ann, "looks right")
    assert request.state == State.APPROVED
    assert request.decided_at is not None and request.ready_at is None
    assert services.deployed(domain, "mtls") is None  # Ready only once the swap confirmed
    assert actions(request) == [
        "truststores.request.submitted",
        "truststores.request.approval_recorded",
        "truststores.request.approved",
    ]


@pytest.mark.django_db
def test_rejection_discards_the_bundle(domain: Domain, people: People) -> None:
    request = submit(domain, people.sam, good_bundle())
    with pytest.raises(ValidationError):
        services.reject(request, people.ann, "")  # a rejection needs a reason
    services.reject(request, people.ann, "wrong CA")
    request.refresh_from_db()
    assert request.state == State.REJECTED and request.bundle == ""
    assert request.validation_result["verdict"] == "pass"  # the findings stay for the record
    assert actions(request)[-1] == "truststores.request.rejected"


@pytest.mark.django_db
def test_cancel_only_by_the_submitter_only_while_pending(domain: Domain, people: People) -> None:
    request = submit(domain, people.sam, good_bundle())
    with pytest.raises(Forbidden):
        services.cancel(request, people.ann)
    services.cancel(request, people.sam, "wrong file")
    assert request.state == State.CANCELLED
    with pytest.raises(Conflict):
        services.approve(request, people.ann)
    with pytest.raises(Conflict):
        services.cancel(request, people.sam)
    request.refresh_from_db()
    assert request.state == State.CANCELLED
    assert actions(request)[-1] == "truststores.request.cancelled"


@pytest.mark.django_db
def test_deployed_is_the_latest_ready_request_and_compare_uses_it(
    domain: Domain, other_domain: Domain, people: People
) -> None:
    root_a, issuing_a = chain("A")
    first = submit(domain, people.sam, issuing_a.pem + root_a.pem)
    TruststoreRequest.objects.filter(pk=first.pk).update(state=State.READY, ready_at=timezone.now())
    assert services.deployed(domain, "mtls") == first
    assert services.deployed(domain, "est") is None
    assert services.deployed(other_domain, "mtls") is None

    root_b = make("B Root CA")
    second = submit(domain, people.sam, root_b.pem + root_a.pem)
    comparison = second.comparison
    assert comparison["deployed_request"] == first.pk
    assert [c["subject"] for c in comparison["removed"]] == [
        issuing_a.cert.subject.rfc4514_string()
    ]
    assert comparison["removes_cas"] is True and "stop connecting" in comparison["warning"]
    assert len(comparison["added"]) == 1 and len(comparison["kept"]) == 1
    assert services.compare_now(second)["at"] == "now"


@pytest.mark.django_db(transaction=True)
def test_two_approvers_racing_make_one_transition(domain: Domain, people: People) -> None:
    request = submit(domain, people.sam, good_bundle())

    def approve(user: User) -> Callable[[], Any]:
        return lambda: services.approve(TruststoreRequest.objects.get(pk=request.pk), user)

    results = run_together([approve(people.ann), approve(people.bob)])
    winners = [r for r in results if isinstance(r, TruststoreRequest)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, results
    request.refresh_from_db()
    assert request.state == State.APPROVED
    assert actions(request).count("truststores.request.approved") == 1
