"""Creating CAs: a root and an intermediate, each through a 2-of-3 key ceremony, with the
path length and domain rules; and the ceremony-less local PKI. Real keys, and `openssl verify`
wherever a chain matters."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from config.errors import Conflict, Forbidden
from pki.crypto.keys import KeyAlgorithm
from pki.models import Ceremony, CertificateAuthority
from pki.services import cas, hierarchy, profiles
from tests.pki.helpers import (
    TLS_SERVER,
    assert_verifies,
    ceremony_event,
    create_intermediate,
    create_root,
    issue_leaf,
    make_people,
)

Op = Ceremony.Operation


# --- create root / intermediate -------------------------------------------------------------


def test_root_and_intermediate_through_ceremonies(people, make_csr, tmp_path: Path):
    root = create_root(people, "alpha-root-1", algorithm="rsa-2048")
    intermediate = create_intermediate(
        people,
        "alpha-int-1",
        root,
        algorithm="ec-p384",
        permitted_dns=["alpha.test"],
        excluded_dns=["secret.alpha.test"],
    )
    assert root.kind == CertificateAuthority.Kind.ROOT and root.parent is None
    assert root.key_algorithm == "rsa-2048" and root.key_backend == "default"
    assert intermediate.kind == CertificateAuthority.Kind.INTERMEDIATE
    assert intermediate.parent == root
    assert intermediate.path_length == 0  # the root's 1 leaves 0 below
    assert intermediate.not_after <= root.not_after
    nc = (
        x509.load_der_x509_certificate(bytes(intermediate.certificate))
        .extensions.get_extension_for_class(x509.NameConstraints)
        .value
    )
    assert nc.permitted_subtrees is not None and nc.excluded_subtrees is not None
    assert [n.value for n in nc.permitted_subtrees] == ["alpha.test"]
    assert [n.value for n in nc.excluded_subtrees] == ["secret.alpha.test"]
    assert cas.chain(intermediate) == [bytes(intermediate.certificate), bytes(root.certificate)]

    intermediate_ceremony = intermediate.ceremony
    assert intermediate_ceremony is not None
    created = ceremony_event("ca.intermediate.created", intermediate_ceremony)
    assert created.details["parent"] == root.slug
    assert intermediate_ceremony.operation == Op.CREATE_INTERMEDIATE

    profiles.save_profile(people.domain, "tls-server", TLS_SERVER, intermediate)
    leaf = issue_leaf(people, "tls-server", "www.alpha.test", make_csr)
    assert_verifies(
        tmp_path,
        trusted=[bytes(root.certificate)],
        untrusted=[bytes(intermediate.certificate)],
        target=leaf,
        extra=("-x509_strict",),
    )


def test_a_path_length_zero_ca_signs_no_ca(people):
    root = create_root(people, "alpha-root-pl", path_length=0)
    other = create_root(people, "alpha-root-pl2")
    with pytest.raises(ValidationError, match="path length 0"):
        people.start(Op.CREATE_INTERMEDIATE, {"slug": "alpha-int-pl", "parent": root.slug})
    with pytest.raises(ValidationError, match="path length 0"):
        people.start(Op.CROSS_SIGN, {"ca": other.slug, "issuer": root.slug})
    # and if it got past start (the CA changed since), execute() refuses without a trace
    ceremony = people.approve(
        people.start(Op.CREATE_INTERMEDIATE, {"slug": "alpha-int-pl", "parent": other.slug}), 2
    )
    CertificateAuthority.objects.filter(pk=other.pk).update(path_length=0)
    with pytest.raises(ValidationError, match="path length 0"):
        hierarchy.execute(ceremony.pk)
    assert not CertificateAuthority.objects.filter(slug="alpha-int-pl").exists()
    ceremony.refresh_from_db()
    assert ceremony.state == Ceremony.State.APPROVED


def test_intermediate_needs_a_parent_of_the_same_domain(people, other_domain, make_user):
    elsewhere = make_people(make_user, other_domain)
    foreign = create_root(elsewhere, "beta-root")
    with pytest.raises(ValidationError, match="no CA 'beta-root' in domain alpha"):
        people.start(Op.CREATE_INTERMEDIATE, {"slug": "alpha-int-x", "parent": foreign.slug})


# --- local PKI --------------------------------------------------------------------------------


def test_local_pki(domain, tmp_path: Path):
    root, issuing = hierarchy.create_local_pki(domain, KeyAlgorithm.EC_P384)
    assert (root.slug, issuing.slug) == ("alpha-root", "alpha-issuing")
    assert root.ceremony is None and issuing.parent == root
    assert (root.path_length, issuing.path_length) == (1, 0)
    assert root.key_algorithm == issuing.key_algorithm == "ec-p384"
    assert_verifies(
        tmp_path,
        trusted=[bytes(root.certificate)],
        target=bytes(issuing.certificate),
    )
    events = AuditEvent.objects.filter(action__in=["ca.root.created", "ca.intermediate.created"])
    assert [e.details["ceremony_id"] for e in events] == [None, None]


def test_local_pki_is_refused_when_disabled(domain, settings):
    settings.ANCHORAGE_LOCAL_PKI = False
    with pytest.raises(Forbidden, match="ANCHORAGE_LOCAL_PKI"):
        hierarchy.create_local_pki(domain)
    assert not CertificateAuthority.objects.exists()


def test_local_pki_is_refused_when_the_domain_has_cas(domain, people):
    create_root(people, "alpha-ceremony-root")
    with pytest.raises(Conflict, match="already has CAs") as refused:
        hierarchy.create_local_pki(domain)
    assert refused.value.code == "exists"
    assert CertificateAuthority.objects.count() == 1


def test_local_pki_twice_is_refused(domain):
    hierarchy.create_local_pki(domain)
    with pytest.raises(Conflict, match="already has CAs"):
        hierarchy.create_local_pki(domain)
    assert CertificateAuthority.objects.count() == 2
