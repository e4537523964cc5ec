"""pki.crypto.crl: entries encoded in plain Python match cryptography's byte for byte, and CRLs
built by splicing entries into cryptography's TBSCertList parse, verify and say what they
should (openssl crl)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from pki.crypto import crl, der
from pki.crypto.backends.software import SoftwareSigner

NOW = datetime(2026, 11, 26, 1, 2, 3, tzinfo=UTC)
FLAGS = {
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "removeFromCRL": x509.ReasonFlags.remove_from_crl,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
    "aACompromise": x509.ReasonFlags.aa_compromise,
}


def reference_entry(serial, when, reason, invalidity):
    """What cryptography's RevokedCertificateBuilder encodes, as the bytes inside a CRL."""
    builder = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
    if reason != "unspecified":
        builder = builder.add_extension(x509.CRLReason(FLAGS[reason]), critical=False)
    if invalidity is not None:
        builder = builder.add_extension(x509.InvalidityDate(invalidity), critical=False)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ref")])
    signed = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name)
        .last_update(NOW)
        .next_update(NOW + timedelta(hours=1))
        .add_revoked_certificate(builder.build())
        .sign(key, hashes.SHA256())
    )
    tbs = signed.tbs_certlist_bytes
    # The only entry: the SEQUENCE OF's content, which is the entry itself.
    offset = der.header(tbs)[1]
    for _ in range(5):  # version, signature, issuer, thisUpdate, nextUpdate
        offset = der.header(tbs, offset)[2]
    _, inner, _ = der.header(tbs, offset)
    return tbs[inner : der.header(tbs, inner)[2]]


@pytest.mark.parametrize("reason", ["unspecified", *FLAGS])
@pytest.mark.parametrize(
    "serial", [1, 0x7F, 0x80, 0xFF00, x509.random_serial_number(), (1 << 158) + 12345]
)
def test_entries_match_cryptography_byte_for_byte(serial, reason):
    assert crl.encode_entry(serial, NOW, reason, None) == reference_entry(serial, NOW, reason, None)


@pytest.mark.parametrize(
    "when",
    [NOW, datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2050, 1, 1, tzinfo=UTC)],
)
def test_times_and_invalidity_date_match(when):
    invalidity = when - timedelta(days=3, seconds=7)
    ours = crl.encode_entry(42, when, "keyCompromise", invalidity)
    assert ours == reference_entry(42, when, "keyCompromise", invalidity)
    assert (b"\x17\x0d" in ours) == (when.year < 2050)  # UTCTime before 2050 (§5.1.2.6)


def test_a_naive_or_offset_time_is_taken_in_utc():
    aware = crl.encode_entry(5, NOW, "superseded", None)
    assert crl.encode_entry(5, NOW.replace(tzinfo=None), "superseded", None) == aware
    other = NOW.astimezone(timezone(timedelta(hours=2)))
    assert crl.encode_entry(5, other, "superseded", None) == aware


def test_an_unknown_reason_is_refused():
    with pytest.raises(crl.CrlError):
        crl.encode_entry(1, NOW, "stolen", None)


def _issuer(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CRL Test CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def openssl_text(tmp_path: Path, der: bytes, issuer_der: bytes) -> str:
    (tmp_path / "c.crl").write_bytes(der)
    (tmp_path / "ca.der").write_bytes(issuer_der)
    subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-in", tmp_path / "ca.der", "-out", tmp_path / "ca"],
        check=True,
    )
    done = subprocess.run(
        [
            *("openssl", "crl", "-inform", "DER", "-in", tmp_path / "c.crl", "-noout", "-text"),
            *("-CAfile", tmp_path / "ca"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "verify OK" in done.stderr + done.stdout
    return done.stdout


KEYS: dict[str, Any] = {
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "rsa2048": lambda: rsa.generate_private_key(65537, 2048),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}


@pytest.mark.parametrize("family", list(KEYS))
def test_a_complete_crl_parses_verifies_and_lists_its_entries(family, tmp_path):
    key = KEYS[family]()
    issuer = _issuer(key)
    entries = [
        crl.encode_entry(0x1001, NOW, "keyCompromise", NOW - timedelta(days=1)),
        crl.encode_entry(0x1002, NOW, "unspecified", None),
        crl.encode_entry(0x1003, NOW, "certificateHold", None),
    ]
    der = crl.build_crl(
        issuer_der=issuer,
        signer=SoftwareSigner(key),
        number=7,
        this_update=NOW,
        next_update=NOW + timedelta(hours=3),
        entries=entries,
        url="http://pki.test/crl/x.crl",
        delta_url="http://pki.test/crl/x.delta.crl",
    )
    text = openssl_text(tmp_path, der, issuer)
    assert "Version 2 (0x1)" in text
    assert "X509v3 CRL Number: \n                7" in text
    assert "X509v3 Issuing Distribution Point: critical" in text
    assert "URI:http://pki.test/crl/x.crl" in text
    assert "X509v3 Freshest CRL" in text and "URI:http://pki.test/crl/x.delta.crl" in text
    assert "X509v3 Authority Key Identifier" in text
    assert "Delta CRL Indicator" not in text
    assert "Key Compromise" in text and "Certificate Hold" in text and "Invalidity Date" in text
    found = crl.info(der)
    assert found.number == 7 and found.base_number is None
    assert found.revoked == {
        0x1001: "keyCompromise",
        0x1002: "unspecified",
        0x1003: "certificateHold",
    }
    assert found.this_update == NOW and found.next_update == NOW + timedelta(hours=3)
    parsed = x509.load_der_x509_crl(der)
    assert parsed.is_signature_valid(key.public_key())


def test_a_delta_crl_carries_its_base_and_removals(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = _issuer(key)
    der = crl.build_crl(
        issuer_der=issuer,
        signer=SoftwareSigner(key),
        number=9,
        this_update=NOW,
        next_update=NOW + timedelta(hours=3),
        entries=[crl.encode_entry(0x2001, NOW, "removeFromCRL", None)],
        url="http://pki.test/crl/x.crl",
        delta_url="http://pki.test/crl/x.delta.crl",  # ignored on a delta
        base_number=8,
    )
    text = openssl_text(tmp_path, der, issuer)
    assert "X509v3 Delta CRL Indicator: critical\n                8" in text
    assert "Freshest CRL" not in text
    assert "Remove From CRL" in text
    assert crl.info(der).base_number == 8


def test_an_empty_crl_has_no_revoked_certificates_field(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = _issuer(key)
    der = crl.build_crl(
        issuer_der=issuer,
        signer=SoftwareSigner(key),
        number=1,
        this_update=NOW,
        next_update=NOW + timedelta(hours=3),
        entries=[],
        url="http://pki.test/crl/x.crl",
    )
    assert "No Revoked Certificates" in openssl_text(tmp_path, der, issuer)
    # §5.1.2.6: absent, not an empty SEQUENCE OF.
    assert b"\x30\x00" not in x509.load_der_x509_crl(der).tbs_certlist_bytes


def test_a_hundred_thousand_entries_build_in_one_pass():
    key = ec.generate_private_key(ec.SECP256R1())
    entries = [crl.encode_entry(n + 1, NOW, "keyCompromise", None) for n in range(100_000)]
    der = crl.build_crl(
        issuer_der=_issuer(key),
        signer=SoftwareSigner(key),
        number=2,
        this_update=NOW,
        next_update=NOW + timedelta(hours=3),
        entries=entries,
        url="http://pki.test/crl/x.crl",
    )
    parsed = x509.load_der_x509_crl(der)
    assert len(parsed) == 100_000
    assert parsed.get_revoked_certificate_by_serial_number(99_999) is not None
