"""Importing a CA made elsewhere (PKCS#12, or PEM key, certificate and chain) through a 2-of-3
key ceremony: the key goes into the backend, the material leaves the ceremony, and bad material
is refused at start. Real keys, and `openssl verify` wherever a chain matters."""

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
from pki.crypto.backends import get_backend
from pki.models import Ceremony, CertificateAuthority
from pki.services import cas, profiles
from pki.services.issuance import IssueRequest, issue
from tests.pki.helpers import (
    TLS_SERVER,
    assert_verifies,
    ceremony_event,
    create_root,
    get_ca,
    issue_leaf,
)

Op = Ceremony.Operation

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
    ca = get_ca(slug)
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
    event = ceremony_event("ca.imported", ceremony)
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
    root = create_root(people, "alpha-root-imp")
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
    ca = get_ca("alpha-sub")
    assert ca.parent == root and ca.external_chain == []
    assert cas.chain(ca) == [_der(sub), bytes(root.certificate)]
    profiles.save_profile(people.domain, "tls-sub", TLS_SERVER, ca)
    leaf = issue_leaf(people, "tls-sub", "www.alpha.test", make_csr)
    assert_verifies(tmp_path, trusted=[bytes(root.certificate)], untrusted=[_der(sub)], target=leaf)


def test_import_of_a_self_signed_root(people):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _external_cert("Lone Root", key)
    people.run(
        Op.IMPORT,
        {"slug": "ext-root"},
        secret={"private_key": _key_pem(key), "certificate": _pem(cert)},
    )
    ca = get_ca("ext-root")
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
