"""Names for the things profiles talk about: subject attributes, key usages, EKUs."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

SUBJECT_ATTRIBUTES: dict[str, ObjectIdentifier] = {
    "CN": NameOID.COMMON_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "emailAddress": NameOID.EMAIL_ADDRESS,
    "DC": NameOID.DOMAIN_COMPONENT,
    "UID": NameOID.USER_ID,
    "pseudonym": NameOID.PSEUDONYM,
}
_ATTRIBUTE_NAMES = {oid: name for name, oid in SUBJECT_ATTRIBUTES.items()}

EKUS: dict[str, ObjectIdentifier] = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING,
}
_EKU_NAMES = {oid: name for name, oid in EKUS.items()}

KEY_USAGES = (
    "digitalSignature",
    "contentCommitment",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
)


def eku_name(oid: ObjectIdentifier) -> str:
    return _EKU_NAMES.get(oid, oid.dotted_string)


def eku_oid(name: str) -> ObjectIdentifier:
    if name in EKUS:
        return EKUS[name]
    try:
        return ObjectIdentifier(name)
    except ValueError:
        raise ValueError(f"unknown extended key usage {name!r}") from None


def name_pairs(name: x509.Name) -> list[tuple[str, str]]:
    pairs = []
    for attribute in name:
        value = attribute.value
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        pairs.append((_ATTRIBUTE_NAMES.get(attribute.oid, attribute.oid.dotted_string), text))
    return pairs


def build_name(pairs: list[tuple[str, str]] | list[list[str]]) -> x509.Name:
    attributes = []
    for key, value in pairs:
        oid = SUBJECT_ATTRIBUTES.get(key) or ObjectIdentifier(key)
        attributes.append(x509.NameAttribute(oid, value))
    return x509.Name(attributes)


def name_text(pairs: list[tuple[str, str]] | list[list[str]]) -> str:
    return build_name(pairs).rfc4514_string()
