"""pki.services.revocation: revoking, holds and their release, who may, and that a
revocation reaches the pre-signed OCSP responses in its own transaction."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from accounts.roles import Role
from audit.models import AuditEvent
from config.errors import Conflict, Forbidden
from pki.crypto import crl
from pki.models import Domain, IssuedCertificate, OcspResponse, Revocation
from pki.services import revocation
from pki.services.issuance import IssueRequest, issue
from tests.conftest import MakeUser
from tests.pki.conftest import MakeCsr

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(pki, domain: Domain, make_user: MakeUser) -> User:
    return make_user("olga", Role.OPERATOR, domain)


@pytest.fixture
def cert(pki, domain: Domain, operator: User, make_csr: MakeCsr) -> IssuedCertificate:
    issued = issue(
        IssueRequest(
            domain=domain,
            profile="tls-server",
            csr=make_csr("www.alpha.test"),
            protocol="api",
            user=operator,
        )
    )
    return issued.certificate


def events(action: str, cert: IssuedCertificate) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, object_id=str(cert.pk)).order_by("pk"))


def ocsp_status(cert: IssuedCertificate) -> str:
    return OcspResponse.objects.get(ca=cert.ca, serial=cert.serial).status


def test_revoke_records_the_entry_the_status_ocsp_and_one_event(cert, operator) -> None:
    assert ocsp_status(cert) == "good"
    done = revocation.revoke(cert, "keyCompromise", actor=operator)
    cert.refresh_from_db()
    assert done.changed
    assert cert.status == IssuedCertificate.Status.REVOKED
    row = Revocation.objects.get(certificate=cert)
    assert row.reason == "keyCompromise"
    assert row.requester == "user:olga"
    assert bytes(row.entry) == crl.encode_entry(
        int(cert.serial, 16), row.revoked_at, "keyCompromise", None
    )
    assert ocsp_status(cert) == "revoked"
    [event] = events("ca.certificate.revoked", cert)
    assert event.details["reason"] == "keyCompromise"
    assert event.details["serial"] == cert.serial


def test_revoking_twice_is_harmless(cert, operator) -> None:
    first = revocation.revoke(cert, "superseded", actor=operator)
    again = revocation.revoke(cert, "keyCompromise", actor=operator)
    assert not again.changed
    assert again.revocation.pk == first.revocation.pk
    assert Revocation.objects.get(certificate=cert).reason == "superseded"
    assert len(events("ca.certificate.revoked", cert)) == 1


def test_a_hold_becomes_permanent_and_keeps_its_date(cert, operator) -> None:
    held = revocation.revoke(cert, "certificateHold", actor=operator)
    assert not revocation.revoke(cert, "certificateHold", actor=operator).changed
    final = revocation.revoke(cert, "keyCompromise", actor=operator)
    assert final.changed
    row = Revocation.objects.get(certificate=cert)
    assert row.reason == "keyCompromise"
    assert row.revoked_at == held.revocation.revoked_at
    last = events("ca.certificate.revoked", cert)[-1]
    assert last.details["previous_reason"] == "certificateHold"


def test_a_released_hold_is_valid_again_and_can_be_revoked_later(cert, operator) -> None:
    revocation.revoke(cert, "certificateHold", actor=operator)
    assert ocsp_status(cert) == "revoked"
    revocation.release_hold(cert, actor=operator)
    cert.refresh_from_db()
    assert cert.status == IssuedCertificate.Status.VALID
    assert Revocation.objects.get(certificate=cert).released_at is not None
    assert ocsp_status(cert) == "good"
    assert len(events("ca.certificate.released", cert)) == 1
    again = revocation.revoke(cert, "cessationOfOperation", actor=operator)
    assert again.changed and again.revocation.released_at is None
    assert Revocation.objects.filter(certificate=cert).count() == 1


def test_only_a_hold_can_be_released(cert, operator) -> None:
    with pytest.raises(Conflict, match="not revoked"):
        revocation.release_hold(cert, actor=operator)
    revocation.revoke(cert, "keyCompromise", actor=operator)
    with pytest.raises(Conflict, match="keyCompromise"):
        revocation.release_hold(cert, actor=operator)
    cert.refresh_from_db()
    assert cert.status == IssuedCertificate.Status.REVOKED


@pytest.mark.parametrize("reason", ["removeFromCRL", "compromised", "", "KEYCOMPROMISE"])
def test_unknown_reasons_are_refused(cert, operator, reason: str) -> None:
    with pytest.raises(ValidationError, match="reason must be one of"):
        revocation.revoke(cert, reason, actor=operator)
    assert not Revocation.objects.exists()


def test_an_invalidity_date_in_the_future_is_refused(cert, operator) -> None:
    tomorrow = timezone.now() + timedelta(days=1)
    with pytest.raises(ValidationError, match="future"):
        revocation.revoke(cert, "keyCompromise", actor=operator, invalidity_date=tomorrow)
    last_week = timezone.now() - timedelta(days=7)
    revocation.revoke(cert, "keyCompromise", actor=operator, invalidity_date=last_week)
    assert Revocation.objects.get(certificate=cert).invalidity_date == last_week


def test_revoking_needs_certs_revoke_in_the_certificates_domain(
    cert, domain, other_domain, make_user: MakeUser
) -> None:
    officer = make_user("rachel", Role.RA_OFFICER, domain)
    stranger = make_user("otto", Role.OPERATOR, other_domain)
    for who in (officer, stranger):
        with pytest.raises(Forbidden, match=r"certs\.revoke"):
            revocation.revoke(cert, "keyCompromise", actor=who)
    cert.refresh_from_db()
    assert cert.status == IssuedCertificate.Status.VALID
    assert not events("ca.certificate.revoked", cert)


def test_a_protocol_front_end_revokes_as_a_named_requester(cert) -> None:
    revocation.revoke(cert, "keyCompromise", requester="acme:account/7")
    assert Revocation.objects.get(certificate=cert).requester == "acme:account/7"


@pytest.mark.django_db(transaction=True)
def test_concurrent_revocations_of_one_certificate_write_once(cert, operator) -> None:
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    results: list[object] = [None] * threads_n

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = revocation.revoke(cert, "keyCompromise", actor=operator).changed
        except Exception as exc:  # surfaced by the assertion below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(map(repr, results)) == sorted(["True"] + ["False"] * (threads_n - 1))
    assert Revocation.objects.filter(certificate=cert).count() == 1
    assert len(events("ca.certificate.revoked", cert)) == 1
