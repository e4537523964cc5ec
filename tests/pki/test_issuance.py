"""The one issuance path: profile enforcement, audit either way, idempotency, RFC 5280 shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from accounts.roles import Role
from audit.models import AuditEvent, OutboxMessage
from config.errors import Conflict, Forbidden
from pki.models import IssuedCertificate
from pki.services import cas
from pki.services.issuance import IssueRequest, ProfileDenied, issue
from tests.pki.helpers import assert_verifies


@pytest.fixture
def operator(make_user, domain):
    return make_user("olga", Role.OPERATOR, domain)


def _req(domain, user, csr, **kw):
    return IssueRequest(
        domain=domain, profile="tls-server", csr=csr, protocol="api", user=user, **kw
    )


def test_issued_certificate_verifies_with_openssl(pki, domain, operator, make_csr, tmp_path: Path):
    root, issuing = pki
    issued = issue(_req(domain, operator, make_csr("www.alpha.test")))
    cert = x509.load_der_x509_certificate(bytes(issued.certificate.der))
    assert_verifies(
        tmp_path,
        trusted=[bytes(root.certificate)],
        untrusted=issued.chain,
        target=bytes(issued.certificate.der),
        extra=("-x509_strict", "-purpose", "sslserver"),
    )
    assert issued.chain == [bytes(issuing.certificate)]
    ext = cert.extensions
    assert ext.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert ext.get_extension_for_class(x509.BasicConstraints).critical
    assert list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    aki = ext.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value
    assert isinstance(aki, x509.AuthorityKeyIdentifier)
    issuing_ski = x509.load_der_x509_certificate(bytes(issuing.certificate)).extensions
    assert (
        aki.key_identifier
        == issuing_ski.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    assert ext.get_extension_for_class(x509.SubjectKeyIdentifier)
    crl = ext.get_extension_for_class(x509.CRLDistributionPoints).value
    assert crl[0].full_name[0].value == cas.urls(issuing.slug)["crl"]
    aia = {
        d.access_method._name: d.access_location.value
        for d in ext.get_extension_for_class(x509.AuthorityInformationAccess).value
    }
    assert aia == {
        "OCSP": cas.urls(issuing.slug)["ocsp"],
        "caIssuers": cas.urls(issuing.slug)["ca_issuers"],
    }
    assert cert.serial_number.bit_length() >= 64
    assert issued.certificate.profile_version.version == 1


@pytest.mark.parametrize(
    ("csr_kw", "reason"),
    [
        ({"key": "rsa1024"}, "RSA-1024 is below the minimum"),
        ({"eku": [ExtendedKeyUsageOID.CODE_SIGNING]}, "codeSigning is not allowed"),
        ({"cn": "www.example.com"}, "outside the allowed suffixes"),
    ],
)
def test_profile_denials_are_refused_and_audited(pki, domain, operator, make_csr, csr_kw, reason):
    with pytest.raises(ProfileDenied) as denied:
        issue(_req(domain, operator, make_csr(**csr_kw)))
    assert reason in str(denied.value)
    event = AuditEvent.objects.filter(action="issuance.profile_evaluated").last()
    assert event is not None
    assert event.details["decision"] == "deny"
    assert any(reason in r for r in event.details["reasons"])
    assert not IssuedCertificate.objects.exists()


def test_too_long_validity_is_denied(pki, domain, operator, make_csr):
    with pytest.raises(ProfileDenied, match="exceeds the profile's 397"):
        issue(_req(domain, operator, make_csr(), validity_days=400))


def test_csr_with_a_bad_signature_is_denied(pki, domain, operator, make_csr):
    der = x509.load_pem_x509_csr(make_csr()).public_bytes(
        __import__("cryptography.hazmat.primitives.serialization", fromlist=["x"]).Encoding.DER
    )
    tampered = der[:-3] + bytes([der[-3] ^ 0x55]) + der[-2:]
    with pytest.raises(ProfileDenied, match="signature does not verify"):
        issue(_req(domain, operator, tampered))


def test_allowed_issuance_writes_cert_events_and_outbox_together(pki, domain, operator, make_csr):
    issued = issue(_req(domain, operator, make_csr()))
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "ca.issue" in actions
    allow = AuditEvent.objects.filter(action="issuance.profile_evaluated").last()
    assert allow is not None
    assert allow.details["decision"] == "allow"
    assert OutboxMessage.objects.filter(topic="ca.issue").count() == 1
    assert issued.created


def test_idempotency_key_returns_the_same_certificate(pki, domain, operator, make_csr):
    csr = make_csr()
    first = issue(_req(domain, operator, csr, idempotency_key="k1"))
    again = issue(_req(domain, operator, csr, idempotency_key="k1"))
    assert again.certificate.pk == first.certificate.pk and not again.created
    assert IssuedCertificate.objects.count() == 1
    with pytest.raises(Conflict):
        issue(_req(domain, operator, make_csr(), idempotency_key="k1"))


def test_ra_officer_cannot_issue(pki, domain, make_user, make_csr):
    officer = make_user("rita", Role.RA_OFFICER, domain)
    with pytest.raises(Forbidden):
        issue(_req(domain, officer, make_csr()))
    assert not IssuedCertificate.objects.exists()


def test_operator_of_another_domain_cannot_issue(pki, domain, other_domain, make_user, make_csr):
    stranger = make_user("sam", Role.OPERATOR, other_domain)
    with pytest.raises(Forbidden):
        issue(_req(domain, stranger, make_csr()))
