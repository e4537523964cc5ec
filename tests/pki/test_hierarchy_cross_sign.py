"""Cross-signing a CA by a second root through a 2-of-3 key ceremony: one leaf, two paths.
Real keys, and `openssl verify` for every path."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from pki.crypto import certs
from pki.models import Ceremony, CrossCertificate
from pki.services import profiles
from tests.pki.helpers import (
    TLS_SERVER,
    assert_verifies,
    ceremony_event,
    create_intermediate,
    create_root,
    issue_leaf,
    openssl_verify,
)

Op = Ceremony.Operation


def test_cross_signing_an_intermediate_by_a_second_root(people, make_csr, tmp_path: Path):
    root_a = create_root(people, "alpha-root-a")
    root_b = create_root(people, "alpha-root-b", algorithm="rsa-3072")
    intermediate = create_intermediate(people, "alpha-int-a", root_a)
    profiles.save_profile(people.domain, "tls-server", TLS_SERVER, intermediate)
    leaf = issue_leaf(people, "tls-server", "www.alpha.test", make_csr)

    ceremony = people.run(Op.CROSS_SIGN, {"ca": intermediate.slug, "issuer": root_b.slug})
    cross = CrossCertificate.objects.get()
    assert (cross.subject_ca, cross.issuer_ca, cross.ceremony) == (intermediate, root_b, ceremony)
    assert ceremony.result == {
        "ca": intermediate.slug,
        "issuer": root_b.slug,
        "cross_certificate": cross.pk,
    }
    cross_der = bytes(cross.certificate)
    info = certs.info(cross_der)
    assert info.subject == certs.info(bytes(intermediate.certificate)).subject
    assert info.public_key_der == certs.info(bytes(intermediate.certificate)).public_key_der
    assert certs.signed_by(cross_der, bytes(root_b.certificate))

    # the same leaf, two paths: through I to A, through the cross-certificate to B
    assert_verifies(
        tmp_path,
        trusted=[bytes(root_a.certificate)],
        untrusted=[bytes(intermediate.certificate)],
        target=leaf,
    )
    assert_verifies(
        tmp_path, trusted=[bytes(root_b.certificate)], untrusted=[cross_der], target=leaf
    )
    # and B alone, without the cross-certificate, is no path at all
    unrelated = openssl_verify(
        tmp_path,
        trusted=[bytes(root_b.certificate)],
        untrusted=[bytes(intermediate.certificate)],
        target=leaf,
    )
    assert unrelated.returncode != 0

    event = ceremony_event("ca.cross_signed", ceremony)
    assert event.details["issuer"] == root_b.slug and event.details["serial"] == cross.serial
    assert event.object_id == str(intermediate.pk)


def test_a_ca_does_not_cross_sign_itself(people):
    root = create_root(people, "alpha-root-c")
    with pytest.raises(ValidationError, match="does not cross-sign itself"):
        people.start(Op.CROSS_SIGN, {"ca": root.slug, "issuer": root.slug})
