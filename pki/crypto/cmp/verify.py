"""Checking a request's protection (RFC 4210 §5.1.3) with typed answers for the front end:
which kind, whether the MAC or signature holds, and who the signer certificate names."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos
from cryptography import x509
from cryptography.x509.oid import NameOID

from pki.crypto.cmp.message import Message
from pki.crypto.cmp.protection import (
    MacSpec,
    ProtectionError,
    certificate_signature_valid,
    is_mac,
    mac_spec,
    mac_valid,
)


def _algorithm(message: Message) -> algos.AlgorithmIdentifier:
    if message.header.protection_alg is None or message.protection is None:
        raise ProtectionError("the message is not protected")
    return algos.AlgorithmIdentifier.load(message.header.protection_alg)


def kind(message: Message) -> MacSpec | None:
    """The MAC the message uses, or None for a signature. ProtectionError when unprotected
    or the MAC is unknown."""
    algorithm = _algorithm(message)
    return mac_spec(algorithm) if is_mac(algorithm) else None


def mac_ok(message: Message, secret: bytes) -> bool:
    assert message.protection is not None
    return mac_valid(_algorithm(message), secret, message.protected_part, message.protection)


def signature_ok(message: Message, cert_der: bytes) -> bool:
    assert message.protection is not None
    return certificate_signature_valid(
        _algorithm(message), cert_der, message.protection, message.protected_part
    )


@dataclass(frozen=True)
class Signer:
    der: bytes
    fingerprint: str  # SHA-256 hex
    subject_text: str
    subject_der: bytes
    serial_number: str  # the subject's serialNumber attribute ("" when none)
    key_id: bytes | None  # SubjectKeyIdentifier
    not_before: datetime
    not_after: datetime


def signer(message: Message) -> Signer:
    """The protection certificate: the first of extraCerts (RFC 9483 §3.3), which must
    match the header's sender and senderKID."""
    if not message.extra_certs:
        raise ProtectionError("a signed message must carry its signer in extraCerts")
    der = message.extra_certs[0]
    try:
        cert = x509.load_der_x509_certificate(der)
        subject_der = cert.subject.public_bytes()
        try:
            ski: bytes | None = cert.extensions.get_extension_for_class(
                x509.SubjectKeyIdentifier
            ).value.digest
        except x509.ExtensionNotFound:
            ski = None
        serials = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    except ValueError as exc:
        raise ProtectionError(f"unreadable signer certificate: {exc}") from None
    serial = serials[0].value if serials else ""
    return Signer(
        der=der,
        fingerprint=hashlib.sha256(der).hexdigest(),
        subject_text=cert.subject.rfc4514_string(),
        subject_der=subject_der,
        serial_number=serial if isinstance(serial, str) else serial.decode(errors="replace"),
        key_id=ski,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def issuer_and_serial(cert_der: bytes) -> tuple[bytes, int]:
    """The issuer Name (DER) and serial of a certificate."""
    cert = x509.load_der_x509_certificate(cert_der)
    return cert.issuer.public_bytes(), cert.serial_number


def same_name(a: bytes | None, b: bytes | None) -> bool:
    """Two Names, DER, equal as X.509 compares them (RFC 5280 §7.1, close enough: by
    parsed value)."""
    if a is None or b is None:
        return False
    from asn1crypto import x509 as ax509

    try:
        return bool(ax509.Name.load(a) == ax509.Name.load(b))
    except ValueError:
        return False
