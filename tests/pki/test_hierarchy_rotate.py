"""Rotating a CA through a 2-of-3 key ceremony: its successor takes over issuance, a rotated
root is linked to the old one by a link certificate, and a failed rotation leaves nothing
behind. Real keys, and `openssl verify` wherever a chain matters."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from pki.crypto import certs
from pki.models import Ceremony, CertificateAuthority, CrossCertificate
from pki.services import cas, hierarchy, profiles
from tests.pki.helpers import (
    TLS_SERVER,
    assert_verifies,
    ceremony_event,
    create_intermediate,
    create_root,
    get_ca,
    issue_leaf,
    openssl_verify,
)

Op = Ceremony.Operation


def test_rotating_an_intermediate(people, make_csr, tmp_path: Path):
    root = create_root(people, "alpha-root-2")
    old = create_intermediate(
        people,
        "alpha-issuing",
        root,
        permitted_dns=["alpha.test"],
        excluded_dns=["secret.alpha.test"],
    )
    profiles.save_profile(people.domain, "tls-server", TLS_SERVER, old)
    before = issue_leaf(people, "tls-server", "before.alpha.test", make_csr)

    ceremony = people.run(Op.ROTATE, {"ca": old.slug, "algorithm": "ec-p384"})
    old.refresh_from_db()
    new = get_ca(ceremony.result["ca"])
    assert new.slug == "alpha-issuing-r2"
    assert old.status == CertificateAuthority.Status.SUPERSEDED
    assert old.superseded_by == new
    assert new.status == CertificateAuthority.Status.ACTIVE
    assert new.parent == root and new.kind == CertificateAuthority.Kind.INTERMEDIATE
    assert new.key_algorithm == "ec-p384" and new.key_ref != old.key_ref
    assert new.subject == old.subject and new.ceremony == ceremony
    assert new.name_constraints == old.name_constraints  # constraints carry over, all of them
    assert not CrossCertificate.objects.exists()  # an intermediate needs no link certificate

    # the profile still names the old CA; issuance signs with its successor
    after = issue_leaf(people, "tls-server", "after.alpha.test", make_csr)
    assert certs.signed_by(after, bytes(new.certificate))
    assert not certs.signed_by(after, bytes(old.certificate))
    assert certs.signed_by(before, bytes(old.certificate))
    for leaf, issuing in ((after, new), (before, old)):
        assert_verifies(
            tmp_path,
            trusted=[bytes(root.certificate)],
            untrusted=[bytes(issuing.certificate)],
            target=leaf,
        )

    rotated = ceremony_event("ca.rotated", ceremony)
    assert rotated.details["old"] == old.slug and rotated.details["new"] == new.slug
    assert rotated.details["link_certificate"] is None


def test_rotating_a_root_links_the_new_root_to_the_old(people, make_csr, tmp_path: Path):
    old = create_root(people, "alpha-root-3")
    issuing = create_intermediate(people, "alpha-issuing-3", old)
    profiles.save_profile(people.domain, "root-direct", TLS_SERVER, old)

    ceremony = people.run(Op.ROTATE, {"ca": old.slug})
    old.refresh_from_db()
    new = get_ca(ceremony.result["ca"])
    assert old.status == CertificateAuthority.Status.SUPERSEDED and old.superseded_by == new
    assert new.kind == CertificateAuthority.Kind.ROOT and new.parent is None
    link = CrossCertificate.objects.get()
    assert (link.subject_ca, link.issuer_ca, link.ceremony) == (new, old, ceremony)
    link_der = bytes(link.certificate)
    # NewWithOld: the new root's name and key, signed by the old root's key
    assert certs.info(link_der).public_key_der == certs.info(bytes(new.certificate)).public_key_der
    assert certs.signed_by(link_der, bytes(old.certificate))
    assert ceremony_event("ca.rotated", ceremony).details["link_certificate"] == link.serial
    # self-issued (same name on both ends), so it keeps the root's path length (RFC 5280
    # §6.1.4 (l)) and a new intermediate below the new root still chains to the old root
    assert certs.info(link_der).path_length == new.path_length == old.path_length == 1

    # The link is a valid CA certificate under the old root ...
    assert_verifies(tmp_path, trusted=[bytes(old.certificate)], target=link_der)
    # ... so a relying party that still trusts only the old root accepts what the new root
    # signs, through the link; one that trusts the new root needs nothing else.
    leaf = issue_leaf(people, "root-direct", "www.alpha.test", make_csr)
    assert certs.signed_by(leaf, bytes(new.certificate))
    assert_verifies(tmp_path, trusted=[bytes(old.certificate)], untrusted=[link_der], target=leaf)
    assert_verifies(tmp_path, trusted=[bytes(new.certificate)], target=leaf)
    # The new root certificate itself is self-signed: openssl does not look for another
    # issuer of a self-signed target, so it is the link (not new_root.pem) that chains to
    # the old root.
    self_signed = openssl_verify(
        tmp_path,
        trusted=[bytes(old.certificate)],
        untrusted=[link_der],
        target=bytes(new.certificate),
    )
    assert self_signed.returncode != 0 and "self-signed" in self_signed.stdout + self_signed.stderr

    # The intermediate under the old root is untouched and still chains to it.
    issuing.refresh_from_db()
    assert issuing.status == CertificateAuthority.Status.ACTIVE and issuing.parent == old


def test_rotating_an_intermediate_after_its_root_rotated(people, make_csr, tmp_path: Path):
    old_root = create_root(people, "alpha-root-7")
    issuing = create_intermediate(people, "alpha-issuing-7", old_root)
    new_root = get_ca(people.run(Op.ROTATE, {"ca": old_root.slug}).result["ca"])
    new_issuing = get_ca(people.run(Op.ROTATE, {"ca": issuing.slug}).result["ca"])
    assert new_issuing.parent == new_root
    profiles.save_profile(people.domain, "tls-server", TLS_SERVER, issuing)
    leaf = issue_leaf(people, "tls-server", "www.alpha.test", make_csr)
    assert certs.signed_by(leaf, bytes(new_issuing.certificate))
    link = bytes(CrossCertificate.objects.get(subject_ca=new_root).certificate)
    # trusted by the new root directly, and by the old root through the link
    for trusted, untrusted in (
        ([bytes(new_root.certificate)], [bytes(new_issuing.certificate)]),
        ([bytes(old_root.certificate)], [bytes(new_issuing.certificate), link]),
    ):
        assert_verifies(tmp_path, trusted=trusted, untrusted=untrusted, target=leaf)


def test_rotation_is_atomic(people, monkeypatch):
    old = create_root(people, "alpha-root-4")
    ceremony = people.approve(people.start(Op.ROTATE, {"ca": old.slug}), 2)

    def broken(*args, **kwargs):
        raise ValidationError("the link certificate could not be made")

    monkeypatch.setattr(hierarchy, "_cross_certificate", broken)
    with pytest.raises(ValidationError):
        hierarchy.execute(ceremony.pk)
    old.refresh_from_db()
    assert old.status == CertificateAuthority.Status.ACTIVE and old.superseded_by is None
    assert list(CertificateAuthority.objects.values_list("slug", flat=True)) == [old.slug]
    assert not AuditEvent.objects.filter(action="ca.rotated").exists()
    ceremony.refresh_from_db()
    assert ceremony.state == Ceremony.State.APPROVED  # may run again once fixed


def test_a_superseded_ca_does_not_rotate_again(people):
    old = create_root(people, "alpha-root-5")
    people.run(Op.ROTATE, {"ca": old.slug})
    with pytest.raises(ValidationError, match="superseded"):
        people.start(Op.ROTATE, {"ca": old.slug})


def test_rotating_twice_names_the_next_generation(people):
    root = create_root(people, "alpha-root-6")
    second = get_ca(people.run(Op.ROTATE, {"ca": root.slug}).result["ca"])
    third = get_ca(people.run(Op.ROTATE, {"ca": second.slug}).result["ca"])
    assert (second.slug, third.slug) == ("alpha-root-6-r2", "alpha-root-6-r3")
    root.refresh_from_db()
    assert cas.active(root) == third  # a profile naming the first generation signs with the third
