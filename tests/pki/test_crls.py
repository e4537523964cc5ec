"""pki.services.crls and /crl/<ca>.crl: CRLs that openssl reads and verifies against, numbers
that only grow, debounced regeneration, holds released through removeFromCRL, entries dropped
one CRL after expiry, the beat round, and the HTTP caching headers."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from accounts.roles import Role
from audit.models import AuditEvent
from pki.crypto import certs, crl
from pki.crypto.pkcs import pem
from pki.models import CertificateAuthority, Crl, CrlSeries, IssuedCertificate, Revocation
from pki.services import crl_storage, crls, revocation
from pki.services.issuance import IssueRequest, issue
from pki.tasks import crls as tasks
from tests.pki.helpers import as_openssl, openssl_verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def leaf(pki, domain, make_user, make_csr):
    """issue(n) → a fresh leaf of the issuing CA."""
    operator = make_user("olga", Role.OPERATOR, domain)

    def make(cn: str = "www.alpha.test") -> IssuedCertificate:
        request = IssueRequest(
            domain=domain, profile="tls-server", csr=make_csr(cn), protocol="api", user=operator
        )
        return issue(request).certificate

    return make


def revoke(cert: IssuedCertificate, reason: str = "keyCompromise") -> Revocation:
    return revocation.revoke(cert, reason).revocation


def openssl_crl_text(tmp_path: Path, der: bytes) -> str:
    path = tmp_path / f"{crl.info(der).number}.crl"
    path.write_bytes(der)
    done = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(path), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def verify_with_crl(
    tmp_path: Path, root, issuing, cert_der: bytes, *crl_ders: bytes, deltas: bool = False
):
    """`openssl verify -crl_check` of a leaf with the given CRLs (-use_deltas with `deltas`)."""
    crl_pem = tmp_path / f"crl-{'-'.join(str(crl.info(d).number) for d in crl_ders)}.pem"
    crl_pem.write_text("".join(pem("X509 CRL", d) for d in crl_ders))
    flags = ("-crl_check", "-CRLfile", str(crl_pem), *(("-use_deltas",) if deltas else ()))
    return openssl_verify(
        tmp_path,
        trusted=[bytes(root.certificate)],
        untrusted=[bytes(issuing.certificate)],
        target=cert_der,
        extra=flags,
    )


def test_complete_and_delta_crls_say_what_openssl_expects(pki, leaf, tmp_path):
    _, issuing = pki
    held, compromised = leaf("a.alpha.test"), leaf("b.alpha.test")
    revoke(held, "certificateHold")
    revoke(compromised, "keyCompromise")

    complete, delta = crls.publish(issuing.pk)

    text = openssl_crl_text(tmp_path, bytes(complete.der))
    assert f"X509v3 CRL Number: \n                {complete.number}" in text
    assert f"URI:http://localhost:8000/crl/{issuing.slug}.crl" in text
    assert "Issuing Distribution Point: critical" in text
    assert (
        f"Freshest CRL: \n                Full Name:\n                  URI:http://localhost:8000/crl/{issuing.slug}.delta.crl"
        in text
    )
    ski = certs.info(bytes(issuing.certificate)).ski.upper()
    aki = ":".join(ski[i : i + 2] for i in range(0, len(ski), 2))
    assert f"Authority Key Identifier: \n                {aki}" in text
    assert f"Serial Number: {as_openssl(held.serial)}" in text and "Certificate Hold" in text
    assert f"Serial Number: {as_openssl(compromised.serial)}" in text and "Key Compromise" in text
    assert complete.entries == 2 and not complete.delta

    text = openssl_crl_text(tmp_path, bytes(delta.der))
    assert delta.delta and delta.base_number == complete.number
    assert delta.number == complete.number + 1
    assert f"Delta CRL Indicator: critical\n                {complete.number}" in text
    assert "Freshest CRL" not in text
    assert f"URI:http://localhost:8000/crl/{issuing.slug}.crl" in text  # the base's scope


def test_openssl_verify_accepts_a_leaf_until_it_is_revoked(pki, leaf, tmp_path):
    root, issuing = pki
    cert = leaf()
    before = crls.generate(issuing, delta=False)
    ok = verify_with_crl(tmp_path, root, issuing, bytes(cert.der), bytes(before.der))
    assert ok.returncode == 0, ok.stdout + ok.stderr

    revoke(cert, "keyCompromise")
    after = crls.generate(issuing, delta=False)
    refused = verify_with_crl(tmp_path, root, issuing, bytes(cert.der), bytes(after.der))
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr


def test_a_released_hold_is_removed_through_the_delta(pki, leaf, tmp_path):
    _, issuing = pki
    cert = leaf()
    revoke(cert, "certificateHold")
    complete, _ = crls.publish(issuing.pk)
    assert crl.info(bytes(complete.der)).revoked == {int(cert.serial, 16): "certificateHold"}

    revocation.release_hold(cert)
    (delta,) = crls.publish(issuing.pk, delta=True)
    assert crl.info(bytes(delta.der)).revoked == {int(cert.serial, 16): "removeFromCRL"}
    assert "Remove From CRL" in openssl_crl_text(tmp_path, bytes(delta.der))

    complete, delta = crls.publish(issuing.pk)
    assert crl.info(bytes(complete.der)).revoked == {}
    assert complete.entries == 0


def test_an_expired_entry_stays_on_one_crl_past_expiry(pki, leaf):
    _, issuing = pki
    expired, valid = leaf("a.alpha.test"), leaf("b.alpha.test")
    revoke(expired)
    revoke(valid)
    Revocation.objects.filter(certificate=expired).update(
        not_after=timezone.now() - timedelta(days=1)
    )
    first = crls.generate(issuing, delta=False)
    second = crls.generate(issuing, delta=False)  # the first was issued after its expiry
    assert set(crl.info(bytes(first.der)).revoked) == {
        int(expired.serial, 16),
        int(valid.serial, 16),
    }
    assert set(crl.info(bytes(second.der)).revoked) == {int(valid.serial, 16)}


def test_a_delta_lists_only_what_changed_since_its_base(pki, leaf):
    _, issuing = pki
    old, new = leaf("a.alpha.test"), leaf("b.alpha.test")
    revoke(old)
    Revocation.objects.filter(certificate=old).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )
    base = crls.generate(issuing, delta=False)
    revoke(new, "superseded")
    delta = crls.generate(issuing, delta=True)
    assert crl.info(bytes(delta.der)).revoked == {int(new.serial, 16): "superseded"}
    assert crl.info(bytes(delta.der)).base_number == base.number


def test_numbers_grow_across_kinds_older_crls_are_pruned_and_publication_audited(pki):
    _, issuing = pki
    made = [crls.generate(issuing, delta=n % 2 == 1) for n in range(6)]
    assert [c.number for c in made] == [1, 2, 3, 4, 5, 6]
    assert [c.delta for c in made] == [False, True] * 3
    kept = Crl.objects.filter(ca=issuing).order_by("number").values_list("number", flat=True)
    assert list(kept) == [3, 4, 5, 6]
    series = CrlSeries.objects.get(ca=issuing)
    assert (series.last_number, series.last_full_number) == (6, 5)
    event = AuditEvent.objects.filter(action="ca.crl.published").order_by("-id").first()
    assert event is not None
    assert event.details["number"] == 6 and event.details["delta"] is True
    assert {"entries", "this_update", "next_update"} <= set(event.details)


def test_a_delta_without_a_base_is_a_complete_crl(pki):
    _, issuing = pki
    first = crls.generate(issuing, delta=True)
    assert not first.delta and crl.info(bytes(first.der)).base_number is None


def test_upstream_and_retired_cas_publish_nothing(pki, client):
    root, issuing = pki
    CertificateAuthority.objects.filter(pk=root.pk).update(kind=CertificateAuthority.Kind.UPSTREAM)
    root.refresh_from_db()
    with pytest.raises(crls.NotPublished):
        crls.generate(root, delta=False)
    assert client.get(f"/crl/{root.slug}.crl").status_code == 404
    issuing.status = CertificateAuthority.Status.RETIRED
    issuing.save()
    assert crls.publish(issuing.pk) == []
    assert crls.publish_due() == {}


def test_schedule_debounces_a_burst_into_one_task(
    pki, monkeypatch, django_capture_on_commit_callbacks
):
    _, issuing = pki
    sent = []
    monkeypatch.setattr(
        tasks.generate_crl, "apply_async", lambda args, countdown: sent.append((args, countdown))
    )
    for _ in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            crls.schedule(issuing)
    assert sent == [((issuing.pk,), 5)]
    assert CrlSeries.objects.get(ca=issuing).pending_since is not None

    tasks.generate_crl(issuing.pk)  # the task clears the flag before it reads
    assert CrlSeries.objects.get(ca=issuing).pending_since is None
    with django_capture_on_commit_callbacks(execute=True):
        crls.schedule(issuing)
    assert len(sent) == 2


def test_a_revocation_schedules_the_crl(pki, leaf, monkeypatch, django_capture_on_commit_callbacks):
    _, issuing = pki
    sent = []
    monkeypatch.setattr(
        tasks.generate_crl, "apply_async", lambda args, countdown: sent.append(args)
    )
    cert = leaf()
    with django_capture_on_commit_callbacks(execute=True):
        revoke(cert)
    assert sent == [(issuing.pk,)]


def test_the_beat_round_publishes_what_is_due(pki, settings):
    root, issuing = pki
    now = certs.now()
    assert crls.publish_due(now) == {root.slug: "complete", issuing.slug: "complete"}
    assert crls.publish_due(now) == {}  # idempotent: nothing due any more
    later = now + timedelta(seconds=settings.ANCHORAGE_CRL_DELTA_SECONDS + 1)
    assert crls.publish_due(later) == {root.slug: "delta", issuing.slug: "delta"}
    much_later = now + timedelta(seconds=settings.ANCHORAGE_CRL_INTERVAL_SECONDS + 1)
    assert crls.publish_due(much_later)[issuing.slug] == "complete"
    # A request whose task was lost (pending for long) gets a complete CRL from beat.
    CrlSeries.objects.filter(ca=issuing).update(pending_since=now - timedelta(hours=1))
    assert crls.publish_due(now + timedelta(seconds=1)) == {issuing.slug: "complete"}


def test_a_failed_generation_is_published_by_the_next_beat_round(pki, monkeypatch):
    _, issuing = pki
    crls.publish_due()
    monkeypatch.setattr(crl, "build_crl", lambda **kw: (_ for _ in ()).throw(OSError("HSM")))
    with pytest.raises(OSError):
        tasks.generate_crl(issuing.pk)
    monkeypatch.undo()
    assert crls.publish_due() == {issuing.slug: "complete"}


def test_a_ca_made_by_a_ceremony_queues_its_first_crl(
    pki, people, monkeypatch, django_capture_on_commit_callbacks
):
    from tests.pki.helpers import create_root

    sent = []
    monkeypatch.setattr(
        tasks.generate_crl, "apply_async", lambda args, countdown: sent.append(args)
    )
    with django_capture_on_commit_callbacks(execute=True):
        root = create_root(people, "ceremony-root")
    assert (root.pk,) in sent


def test_the_portable_storage_path_matches_postgresqls(pki, leaf, monkeypatch):
    """crl_storage reads and writes through psycopg on PostgreSQL; elsewhere (SQLite) through
    the ORM. Both give the same entries and the same stored CRL."""
    _, issuing = pki
    for cn in ("a.alpha.test", "b.alpha.test", "c.alpha.test"):
        revoke(leaf(cn))
    fast_entries, fast_count = crl_storage.complete_entries(issuing, None)
    fast = crls.generate(issuing, delta=False)
    monkeypatch.setattr(connection, "vendor", "portable")
    entries, count = crl_storage.complete_entries(issuing, None)
    assert count == fast_count == 3
    assert sorted(b"".join(entries)) == sorted(b"".join(fast_entries))  # same bytes, any order
    portable = crls.generate(issuing, delta=False)
    assert crl_storage.load(Crl.objects.get(pk=portable.pk)) == bytes(portable.der)
    assert crl.info(bytes(portable.der)).revoked == crl.info(bytes(fast.der)).revoked
