"""Reading a PKIMessage (RFC 4210 §5.1) into plain typed values for the CMP front end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import core, x509

from pki.crypto.cmp import asn1
from pki.crypto.cmp.protection import protected_part

MAX_MESSAGE = 256 * 1024


class Malformed(ValueError):
    """Not a PKIMessage we can read (badDataFormat)."""


@dataclass(frozen=True)
class Header:
    pvno: int
    sender: bytes  # GeneralName, DER
    sender_dn: bytes | None  # the Name of a directoryName sender, DER
    recipient: bytes  # GeneralName, DER
    message_time: datetime | None
    protection_alg: bytes | None  # AlgorithmIdentifier, DER
    sender_kid: bytes | None
    transaction_id: bytes | None
    sender_nonce: bytes | None
    recip_nonce: bytes | None
    implicit_confirm: bool = False
    cert_profile: str | None = None  # id-it-certProfile (RFC 9483 §3.1), the first one
    general_info: list[str] = field(default_factory=list)  # infoType OIDs


@dataclass(frozen=True)
class Message:
    der: bytes
    header: Header
    body_type: str  # "ir", "cr", "kur", "p10cr", "rr", "certConf", "genm", ...
    protected_part: bytes  # DER(ProtectedPart), what the protection covers
    protection: bytes | None
    extra_certs: list[bytes]  # DER
    asn1: asn1.PKIMessage

    @property
    def body(self) -> core.Asn1Value:
        return self.asn1["body"].chosen


def parse(der: bytes) -> Message:
    if not der:
        raise Malformed("the body is empty: a DER PKIMessage is expected")
    if len(der) > MAX_MESSAGE:
        raise Malformed(f"a PKIMessage larger than {MAX_MESSAGE} bytes")
    try:
        msg = asn1.PKIMessage.load(der, strict=True)
        _walk(msg)
        header = _header(msg["header"])
        body_type = msg["body"].name
        protection = msg["protection"].native if msg["protection"].native is not None else None
        extra = [c.dump() for c in msg["extraCerts"]] if msg["extraCerts"].native else []
        part = protected_part(msg["header"], msg["body"])
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise Malformed(f"not a DER PKIMessage: {exc}") from None
    return Message(der, header, body_type, part, protection, extra, msg)


def _walk(msg: asn1.PKIMessage) -> None:
    """asn1crypto parses lazily: parse everything now so a bad inner value surfaces here.
    ANY values (InfoTypeAndValue's infoValue) are left to whoever reads them: a generic
    parse cannot read context-tagged contents."""
    header = msg["header"]
    for name, *_ in header._fields:
        if name != "generalInfo":
            header[name].native  # noqa: B018
    for itav in header["generalInfo"] if header["generalInfo"].native is not None else []:
        itav["infoType"].native  # noqa: B018
    body = msg["body"]
    if body.name in ("genm", "genp"):
        for itav in body.chosen:
            itav["infoType"].native  # noqa: B018
    else:
        body.native  # noqa: B018
    msg["protection"].native  # noqa: B018
    msg["extraCerts"].native  # noqa: B018


def present(value: core.Asn1Value) -> bool:
    """Whether an OPTIONAL field is there (without parsing an ANY)."""
    return not isinstance(value, core.Void)


def _header(h: asn1.PKIHeader) -> Header:
    sender = h["sender"]
    info = list(h["generalInfo"]) if present(h["generalInfo"]) else []
    profile = None
    implicit = False
    for itav in info:
        oid = itav["infoType"].dotted
        if oid == asn1.IT_IMPLICIT_CONFIRM:
            implicit = True
        elif oid == asn1.IT_CERT_PROFILE and present(itav["infoValue"]):
            names = asn1.CertProfileValue.load(itav["infoValue"].dump()).native
            profile = names[0] if names else None
    alg = h["protectionAlg"]
    return Header(
        pvno=h["pvno"].native,
        sender=sender.dump(),
        sender_dn=sender.chosen.untag().dump(force=True)
        if sender.name == "directory_name"
        else None,
        recipient=h["recipient"].dump(),
        message_time=h["messageTime"].native,
        protection_alg=alg.untag().dump(force=True) if alg.native is not None else None,
        sender_kid=h["senderKID"].native,
        transaction_id=h["transactionID"].native,
        sender_nonce=h["senderNonce"].native,
        recip_nonce=h["recipNonce"].native,
        implicit_confirm=implicit,
        cert_profile=profile,
        general_info=[i["infoType"].dotted for i in info],
    )


def name_text(name_der: bytes) -> str:
    """A Name, DER, as RFC 4514 text (for logs and audit details)."""
    try:
        return str(x509.Name.load(name_der).human_friendly)
    except ValueError:
        return "?"
