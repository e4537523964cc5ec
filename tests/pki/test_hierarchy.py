"""The CA hierarchy's operations, each run through a 2-of-3 key ceremony: create root and
intermediate, rotate, cross-sign, import; and the ceremony-less local PKI. Real keys, and
`openssl verify` wherever a chain matters."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError

from approvals.tasks import run_action
from audit.models import AuditEvent
from config.errors import Conflict, Forbidden
from pki.crypto import certs
from pki.crypto.backends import get_backend
from pki.crypto.keys import KeyAlgorithm
from pki.models import Ceremony, CertificateAuthority, CrossCertificate
from pki.services import cas, hierarchy, profiles
from pki.services.issuance import IssueRequest, issue
from tests.pki.helpers import TLS_SERVER, People, assert_verifies, make_people, openssl_verify

Op = Ceremony.Operation


@pytest.fixture
def people(make_user, domain) -> People:
    return make_people(make_user, domain)


def _ca(slug: str) -> CertificateAuthority:
    return CertificateAuthority.objects.get(slug=slug)


def _root(people: People, slug: str, **params: object) -> CertificateAuthority:
    people.run(Op.CREATE_ROOT, {"slug": slug, "name": slug.title(), "path_length": 1, **params})
    return _ca(slug)


def _intermediate(
    people: People, slug: str, parent: CertificateAuthority, **params: object
) -> CertificateAuthority:
    people.run(
        Op.CREATE_INTERMEDIATE,
        {"slug": slug, "name": slug.title(), "parent": parent.slug, **params},
    )
    return _ca(slug)


def _issue_leaf(people: People, profile: str, cn: str, make_csr) -> bytes:
    issued = issue(
        IssueRequest(
            domain=people.domain,
            profile=profile,
            csr=make_csr(cn),
            protocol="api",
            user=people.operator,
        )
    )
    return bytes(issued.certificate.der)


def _event(action: str, ceremony: Ceremony) -> AuditEvent:
    return AuditEvent.objects.get(action=action, details__ceremony_id=ceremony.pk)


# --- create root / intermediate -------------------------------------------------------------


def test_root_and_intermediate_through_ceremonies(people, make_csr, tmp_path: Path):
    root = _root(people, "alpha-root-1", algorithm="rsa-2048")
    intermediate = _intermediate(
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
    created = _event("ca.intermediate.created", intermediate_ceremony)
    assert created.details["parent"] == root.slug
    assert intermediate_ceremony.operation == Op.CREATE_INTERMEDIATE

    profiles.save_profile(people.domain, "tls-server", TLS_SERVER, intermediate)
    leaf = _issue_leaf(people, "tls-server", "www.alpha.test", make_csr)
    assert_verifies(
        tmp_path,
        trusted=[bytes(root.certificate)],
        untrusted=[bytes(intermediate.certificate)],
        target=leaf,
        extra=("-x509_strict",),
    )


def test_a_path_length_zero_ca_signs_no_ca(people):
    root = _root(people, "alpha-root-pl", path_length=0)
    other = _root(people, "alpha-root-pl2")
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
    foreign = _root(elsewhere, "beta-root")
    with pytest.raises(ValidationError, match="no CA 'beta-root' in domain alpha"):
        people.start(Op.CREATE_INTERMEDIATE, {"slug": "alpha-int-x", "parent": foreign.slug})


# --- rotate -----------------------------------------------------------------------------------


def test_rotating_an_intermediate(people, make_csr, tmp_path: Path):
    root = _root(people, "alpha-root-2")
    old = _intermediate(
        people,
        "alpha-issuing",
        root,
        permitted_dns=["alpha.test"],
        excluded_dns=["secret.alpha.test"],
    )
    profiles.save_profile(people.domain, "tls-server", TLS_SERVER, old)
    before = _issue_leaf(people, "tls-server", "before.alpha.test", make_csr)

    ceremony = people.run(Op.ROTATE, {"ca": old.slug, "algorithm": "ec-p384"})
    old.refresh_from_db()
    new = _ca(ceremony.result["ca"])
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
    after = _issue_leaf(people, "tls-server", "after.alpha.test", make_csr)
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

    rotated = _event("ca.rotated", ceremony)
    assert rotated.details["old"] == old.slug and rotated.details["new"] == new.slug
    assert rotated.details["link_certificate"] is None


def test_rotating_a_root_links_the_new_root_to_the_old(people, make_csr, tmp_path: Path):
    old = _root(people, "alpha-root-3")
    issuing = _intermediate(people, "alpha-issuing-3", old)
    profiles.save_profile(people.domain, "root-direct", TLS_SERVER, old)

    ceremony = people.run(Op.ROTATE, {"ca": old.slug})
    old.refresh_from_db()
    new = _ca(ceremony.result["ca"])
    assert old.status == CertificateAuthority.Status.SUPERSEDED and old.superseded_by == new
    assert new.kind == CertificateAuthority.Kind.ROOT and new.parent is None
    link = CrossCertificate.objects.get()
    assert (link.subject_ca, link.issuer_ca, link.ceremony) == (new, old, ceremony)
    link_der = bytes(link.certificate)
    # NewWithOld: the new root's name and key, signed by the old root's key
    assert certs.info(link_der).public_key_der == certs.info(bytes(new.certificate)).public_key_der
    assert certs.signed_by(link_der, bytes(old.certificate))
    assert _event("ca.rotated", ceremony).details["link_certificate"] == link.serial
    # self-issued (same name on both ends), so it keeps the root's path length (RFC 5280
    # §6.1.4 (l)) and a new intermediate below the new root still chains to the old root
    assert certs.info(link_der).path_length == new.path_length == old.path_length == 1

    # The link is a valid CA certificate under the old root ...
    assert_verifies(tmp_path, trusted=[bytes(old.certificate)], target=link_der)
    # ... so a relying party that still trusts only the old root accepts what the new root
    # signs, through the link; one that trusts the new root needs nothing else.
    leaf = _issue_leaf(people, "root-direct", "www.alpha.test", make_csr)
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
    old_root = _root(people, "alpha-root-7")
    issuing = _intermediate(people, "alpha-issuing-7", old_root)
    new_root = _ca(people.run(Op.ROTATE, {"ca": old_root.slug}).result["ca"])
    new_issuing = _ca(people.run(Op.ROTATE, {"ca": issuing.slug}).result["ca"])
    assert new_issuing.parent == new_root
    profiles.save_profile(people.domain, "tls-server", TLS_SERVER, issuing)
    leaf = _issue_leaf(people, "tls-server", "www.alpha.test", make_csr)
    assert certs.signed_by(leaf, bytes(new_issuing.certificate))
    link = bytes(CrossCertificate.objects.get(subject_ca=new_root).certificate)
    # trusted by the new root directly, and by the old root through the link
    for trusted, untrusted in (
        ([bytes(new_root.certificate)], [bytes(new_issuing.certificate)]),
        ([bytes(old_root.certificate)], [bytes(new_issuing.certificate), link]),
    ):
        assert_verifies(tmp_path, trusted=trusted, untrusted=untrusted, target=leaf)


def test_rotation_is_atomic(people, monkeypatch):
    old = _root(people, "alpha-root-4")
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
    old = _root(people, "alpha-root-5")
    people.run(Op.ROTATE, {"ca": old.slug})
    with pytest.raises(ValidationError, match="superseded"):
        people.start(Op.ROTATE, {"ca": old.slug})


def test_rotating_twice_names_the_next_generation(people):
    root = _root(people, "alpha-root-6")
    second = _ca(people.run(Op.ROTATE, {"ca": root.slug}).result["ca"])
    third = _ca(people.run(Op.ROTATE, {"ca": second.slug}).result["ca"])
    assert (second.slug, third.slug) == ("alpha-root-6-r2", "alpha-root-6-r3")
    root.refresh_from_db()
    assert cas.active(root) == third  # a profile naming the first generation signs with the third


# --- cross-sign -------------------------------------------------------------------------------


def test_cross_signing_an_intermediate_by_a_second_root(people, make_csr, tmp_path: Path):
    root_a = _root(people, "alpha-root-a")
    root_b = _root(people, "alpha-root-b", algorithm="rsa-3072")
    intermediate = _intermediate(people, "alpha-int-a", root_a)
    profiles.save_profile(people.domain, "tls-server", TLS_SERVER, intermediate)
    leaf = _issue_leaf(people, "tls-server", "www.alpha.test", make_csr)

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

    event = _event("ca.cross_signed", ceremony)
    assert event.details["issuer"] == root_b.slug and event.details["serial"] == cross.serial
    assert event.object_id == str(intermediate.pk)


def test_a_ca_does_not_cross_sign_itself(people):
    root = _root(people, "alpha-root-c")
    with pytest.raises(ValidationError, match="does not cross-sign itself"):
        people.start(Op.CROSS_SIGN, {"ca": root.slug, "issuer": root.slug})


# --- import -----------------------------------------------------------------------------------

NOW = datetime.now(UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "External Org"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _external_cert(
    cn: str,
    key: CertificateIssuerPrivateKeyTypes,
    *,
    issuer: tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes] | None = None,
    ca: bool = True,
    path_length: int | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> x509.Certificate:
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_cert.subject if issuer_cert else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - timedelta(days=1))
        .not_valid_after(not_after or NOW + timedelta(days=3650))
        .add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def external():
    """An external root and an intermediate CA below it, with their keys."""
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = _external_cert("External Root", root_key, path_length=1)
    int_key = rsa.generate_private_key(65537, 2048)
    intermediate = _external_cert(
        "External Issuing", int_key, issuer=(root, root_key), path_length=0
    )
    return {"root": root, "root_key": root_key, "int": intermediate, "int_key": int_key}


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key, password: str | None = None) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption(),
    ).decode()


def _p12(key, cert, chain, password: str) -> str:
    blob = pkcs12.serialize_key_and_certificates(
        b"external", key, cert, chain, serialization.BestAvailableEncryption(password.encode())
    )
    return base64.b64encode(blob).decode()


def _check_imported(people, ceremony, external, make_csr, tmp_path, slug) -> CertificateAuthority:
    ca = _ca(slug)
    assert ca.kind == CertificateAuthority.Kind.IMPORTED and ca.ceremony == ceremony
    assert bytes(ca.certificate) == _der(external["int"])
    assert ca.external_chain == [_der(external["root"]).hex()]
    assert ca.key_algorithm == "rsa-2048" and ca.key_backend == "default"
    # the key went into the backend: the same key, sealed there
    exported = get_backend("default").export_private_key(ca.key_ref)
    assert exported == external["int_key"].private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert ceremony.sealed_secret is None  # the import material is gone from the ceremony
    event = _event("ca.imported", ceremony)
    assert event.details["slug"] == slug

    profiles.save_profile(people.domain, f"tls-{slug}", TLS_SERVER, ca)
    issued = issue(
        IssueRequest(
            domain=people.domain,
            profile=f"tls-{slug}",
            csr=make_csr("imported.alpha.test"),
            protocol="api",
            user=people.operator,
        )
    )
    assert issued.chain == [_der(external["int"])]
    assert_verifies(
        tmp_path,
        trusted=[_der(external["root"])],
        untrusted=issued.chain,
        target=bytes(issued.certificate.der),
        extra=("-x509_strict",),
    )
    return ca


def test_import_from_pkcs12(people, external, make_csr, tmp_path: Path):
    secret = {
        "pkcs12": _p12(external["int_key"], external["int"], [external["root"]], "s3cret"),
        "password": "s3cret",
    }
    ceremony = people.start(Op.IMPORT, {"slug": "ext-p12", "name": "External"}, secret=secret)
    sealed = bytes(ceremony.sealed_secret)
    assert sealed and b"s3cret" not in sealed and secret["pkcs12"].encode() not in sealed
    assert "s3cret" not in str(ceremony.params) and "pkcs12" not in ceremony.params
    people.approve(ceremony, 2)
    assert not CertificateAuthority.objects.filter(slug="ext-p12").exists()
    assert run_action(ceremony.approval_id) == "done"
    ceremony.refresh_from_db()
    _check_imported(people, ceremony, external, make_csr, tmp_path, "ext-p12")


@pytest.mark.parametrize("password", [None, "key-pass"])
def test_import_from_pem_key_certificate_and_chain(
    people, external, make_csr, tmp_path: Path, password
):
    secret = {
        "private_key": _key_pem(external["int_key"], password),
        "certificate": _pem(external["int"]),
        "chain": _pem(external["root"]),
    }
    if password:
        secret["password"] = password
    ceremony = people.run(Op.IMPORT, {"slug": "ext-pem"}, secret=secret)
    _check_imported(people, ceremony, external, make_csr, tmp_path, "ext-pem")


def test_import_below_a_ca_of_ours(people, make_csr, tmp_path: Path):
    """An intermediate made elsewhere for our root (its key never here before) is imported
    with `parent`: its chain is ours, not an external one."""
    root = _root(people, "alpha-root-imp")
    root_key = serialization.load_der_private_key(
        get_backend("default").export_private_key(root.key_ref), None
    )
    assert isinstance(root_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    sub_key = ec.generate_private_key(ec.SECP256R1())
    sub = _external_cert(
        "Sub CA",
        sub_key,
        issuer=(x509.load_der_x509_certificate(bytes(root.certificate)), root_key),
    )
    secret = {"private_key": _key_pem(sub_key), "certificate": _pem(sub)}
    people.run(Op.IMPORT, {"slug": "alpha-sub", "parent": root.slug}, secret=secret)
    ca = _ca("alpha-sub")
    assert ca.parent == root and ca.external_chain == []
    assert cas.chain(ca) == [_der(sub), bytes(root.certificate)]
    profiles.save_profile(people.domain, "tls-sub", TLS_SERVER, ca)
    leaf = _issue_leaf(people, "tls-sub", "www.alpha.test", make_csr)
    assert_verifies(tmp_path, trusted=[bytes(root.certificate)], untrusted=[_der(sub)], target=leaf)


def test_import_of_a_self_signed_root(people):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _external_cert("Lone Root", key)
    people.run(
        Op.IMPORT,
        {"slug": "ext-root"},
        secret={"private_key": _key_pem(key), "certificate": _pem(cert)},
    )
    ca = _ca("ext-root")
    assert ca.parent is None and ca.external_chain == [] and cas.chain(ca) == [_der(cert)]


def _bad_imports(external) -> dict[str, tuple[dict[str, str], str]]:
    other_key = rsa.generate_private_key(65537, 2048)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _external_cert(
        "leaf.example", leaf_key, issuer=(external["int"], external["int_key"]), ca=False
    )
    expired_key = ec.generate_private_key(ec.SECP256R1())
    expired = _external_cert(
        "Expired Root",
        expired_key,
        not_before=NOW - timedelta(days=400),
        not_after=NOW - timedelta(days=1),
    )
    return {
        "wrong pkcs12 password": (
            {
                "pkcs12": _p12(external["int_key"], external["int"], [external["root"]], "right"),
                "password": "wrong",
            },
            "cannot open the PKCS#12 file",
        ),
        "key of another certificate": (
            {
                "private_key": _key_pem(other_key),
                "certificate": _pem(external["int"]),
                "chain": _pem(external["root"]),
            },
            "does not belong to the certificate",
        ),
        "not a CA certificate": (
            {
                "private_key": _key_pem(leaf_key),
                "certificate": _pem(leaf),
                "chain": _pem(external["int"]) + _pem(external["root"]),
            },
            "not a CA certificate",
        ),
        "intermediate without its root": (
            {
                "pkcs12": _p12(external["int_key"], external["int"], None, "pw"),
                "password": "pw",
            },
            "the chain is incomplete",
        ),
        "expired CA": (
            {"private_key": _key_pem(expired_key), "certificate": _pem(expired)},
            "has expired",
        ),
        "no certificate": ({"private_key": _key_pem(other_key)}, "no certificate given"),
        "not a key": (
            {"private_key": "garbage", "certificate": _pem(external["int"])},
            "not a readable private key",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong pkcs12 password",
        "key of another certificate",
        "not a CA certificate",
        "intermediate without its root",
        "expired CA",
        "no certificate",
        "not a key",
    ],
)
def test_bad_imports_are_refused_at_start(people, external, case):
    secret, message = _bad_imports(external)[case]
    with pytest.raises(ValidationError, match=message):
        people.start(Op.IMPORT, {"slug": "ext-bad"}, secret=secret)
    assert not Ceremony.objects.exists()
    assert not CertificateAuthority.objects.exists()


def test_import_needs_material(people):
    with pytest.raises(ValidationError, match="an import needs"):
        people.start(Op.IMPORT, {"slug": "ext-none"})


def test_import_into_an_unknown_key_backend_is_refused_at_start(people, external):
    secret = {"private_key": _key_pem(external["int_key"]), "certificate": _pem(external["int"])}
    with pytest.raises(ValidationError, match="no key backend named vault9"):
        people.start(Op.IMPORT, {"slug": "ext-kb", "key_backend": "vault9"}, secret=secret)


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
    _root(people, "alpha-ceremony-root")
    with pytest.raises(Conflict, match="already has CAs") as refused:
        hierarchy.create_local_pki(domain)
    assert refused.value.code == "exists"
    assert CertificateAuthority.objects.count() == 1


def test_local_pki_twice_is_refused(domain):
    hierarchy.create_local_pki(domain)
    with pytest.raises(Conflict, match="already has CAs"):
        hierarchy.create_local_pki(domain)
    assert CertificateAuthority.objects.count() == 2
