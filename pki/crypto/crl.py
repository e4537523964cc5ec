"""CRLs (RFC 5280 §5): one revokedCertificates entry, and complete or delta CRLs built from
entries encoded ahead of time.

Adding a million entries one by one to `cryptography`'s builder takes minutes (DESIGN.md).
Entries are encoded once, when a revocation changes (encode_entry, stored beside the row),
and a CRL is `cryptography`'s TBSCertList without entries, into which the joined entries are
spliced before `[0] crlExtensions`, signed by the CA's Signer (software, HSM or KMS alike).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from pki.crypto import der
from pki.crypto.keys import Signer
from pki.crypto.signing import draft_tbs_crl

# CRLReason (RFC 5280 §5.3.1) by ASN.1 name; 7 is not used.
REASON_CODES = {
    "unspecified": 0,
    "keyCompromise": 1,
    "cACompromise": 2,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "certificateHold": 6,
    "removeFromCRL": 8,
    "privilegeWithdrawn": 9,
    "aACompromise": 10,
}
_REASON_CODE_OID = bytes.fromhex("0603551d15")  # id-ce-cRLReasons 2.5.29.21
_INVALIDITY_DATE_OID = bytes.fromhex("0603551d18")  # id-ce-invalidityDate 2.5.29.24


class CrlError(ValueError):
    pass


def encode_entry(
    serial: int, revoked_at: datetime, reason: str, invalidity_date: datetime | None
) -> bytes:
    """SEQUENCE { userCertificate, revocationDate, crlEntryExtensions OPTIONAL }, DER.

    reasonCode is left out for unspecified (§5.3.1: SHOULD be absent); both extensions are
    non-critical, so the BOOLEAN is absent (DER omits a DEFAULT value)."""
    code = REASON_CODES.get(reason)
    if code is None:
        raise CrlError(f"unknown CRL reason {reason!r}")
    extensions = b""
    if code:
        extensions += der.tlv(0x30, _REASON_CODE_OID + der.tlv(0x04, bytes((0x0A, 1, code))))
    if invalidity_date is not None:
        value = der.tlv(0x04, der.generalized_time(invalidity_date))  # §5.3.2: always Generalized
        extensions += der.tlv(0x30, _INVALIDITY_DATE_OID + value)
    body = der.integer(serial) + der.x509_time(revoked_at)
    if extensions:
        body += der.tlv(0x30, extensions)
    return der.tlv(0x30, body)


def build_crl(
    *,
    issuer_der: bytes,
    signer: Signer,
    number: int,
    this_update: datetime,
    next_update: datetime,
    entries: Iterable[bytes],
    url: str,
    delta_url: str | None = None,
    base_number: int | None = None,
) -> bytes:
    """A signed v2 CRL (DER) listing `entries` (encode_entry's output, joined as they are).

    A delta CRL when `base_number` is given (DeltaCRLIndicator, critical, §5.2.4); else a
    complete CRL, pointing at its delta with FreshestCRL when `delta_url` is given (§5.2.6).
    Both carry the same IssuingDistributionPoint, `url`: the CRL distribution point of the
    certificates they cover (a delta has its base's scope, §5.2.4, and relying parties match
    the IDP against the certificate's CRLDP, §6.3.3 (b)(2))."""
    issuer = x509.load_der_x509_certificate(issuer_der)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(next_update)  # §5.1.2.5: conforming CRL issuers MUST include it
        .add_extension(_aki(issuer), critical=False)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_idp(url), critical=True)  # §5.2.5: a critical extension
    )
    if base_number is not None:
        builder = builder.add_extension(x509.DeltaCRLIndicator(base_number), critical=True)
    elif delta_url is not None:
        point = x509.DistributionPoint(
            [x509.UniformResourceIdentifier(delta_url)], None, None, None
        )
        builder = builder.add_extension(x509.FreshestCRL([point]), critical=False)
    tbs = _with_entries(draft_tbs_crl(builder, signer.algorithm), list(entries))
    return der.signed(tbs, signer.algorithm, signer.sign(tbs))


def _with_entries(tbs: bytes, entries: list[bytes]) -> bytes:
    """`tbs` (no revokedCertificates) with `SEQUENCE OF entries` put before crlExtensions, in
    one copy (a million entries are 50 MB). An empty list is left out (§5.1.2.6)."""
    size = sum(map(len, entries))
    if not size:
        return tbs
    _, start, end = der.header(tbs)
    offset = start
    while offset < end and tbs[offset] != 0xA0:  # [0] EXPLICIT crlExtensions
        offset = der.header(tbs, offset)[2]
    head, tail = tbs[start:offset], tbs[offset:end]
    revoked = b"\x30" + der.length(size)
    total = len(head) + len(revoked) + size + len(tail)
    return b"".join([b"\x30", der.length(total), head, revoked, *entries, tail])


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """§5.2.1: the issuer's key identifier, as in the certificates it signs."""
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        ski = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _idp(url: str) -> x509.IssuingDistributionPoint:
    return x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier(url)],
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )


@dataclass(frozen=True)
class CrlInfo:
    number: int
    base_number: int | None  # the DeltaCRLIndicator of a delta CRL
    this_update: datetime
    next_update: datetime | None
    issuer: str
    revoked: dict[int, str]  # serial → reason name ("unspecified" when absent)
    sha256: str


def info(data: bytes) -> CrlInfo:
    """What a CRL says, for tests and checks (parses every entry: not for a million)."""
    try:
        crl = x509.load_der_x509_crl(data)
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise CrlError(f"not a CRL of ours: {exc}") from None
    try:
        base: int | None = crl.extensions.get_extension_for_class(
            x509.DeltaCRLIndicator
        ).value.crl_number
    except x509.ExtensionNotFound:
        base = None
    revoked = {}
    for entry in crl:
        try:
            flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
            name = _ENUM_NAMES[flag.name]
        except x509.ExtensionNotFound:
            name = "unspecified"
        revoked[entry.serial_number] = name
    return CrlInfo(
        number=number,
        base_number=base,
        this_update=crl.last_update_utc,
        next_update=crl.next_update_utc,
        issuer=crl.issuer.rfc4514_string(),
        revoked=revoked,
        sha256=hashlib.sha256(data).hexdigest(),
    )


# cryptography's ReasonFlags member names → the RFC's ASN.1 names.
_ENUM_NAMES = {
    "unspecified": "unspecified",
    "key_compromise": "keyCompromise",
    "ca_compromise": "cACompromise",
    "affiliation_changed": "affiliationChanged",
    "superseded": "superseded",
    "cessation_of_operation": "cessationOfOperation",
    "certificate_hold": "certificateHold",
    "remove_from_crl": "removeFromCRL",
    "privilege_withdrawn": "privilegeWithdrawn",
    "aa_compromise": "aACompromise",
}
