"""What a CMP request asks for, checked at the crypto boundary: certificate requests (CRMF,
RFC 4211) with their proof of possession, PKCS#10 requests (p10cr), revocation details,
certificate confirmations and general messages."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from asn1crypto import crl
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ObjectIdentifier

from pki.crypto.cmp import asn1
from pki.crypto.cmp.message import Message, present
from pki.crypto.cmp.protection import ProtectionError, signature_valid
from pki.crypto.csr import CsrError, CsrInfo, inspect, key_facts
from pki.crypto.names import eku_name, name_pairs


class RequestError(ValueError):
    """The request cannot be served as sent; `fail` names the PKIFailureInfo bit."""

    def __init__(self, reason: str, fail: str = "badRequest") -> None:
        super().__init__(reason)
        self.fail = fail


@dataclass(frozen=True)
class CertRequest:
    cert_req_id: int
    csr: CsrInfo  # the template and its key as issuance reads a CSR; signature_valid = POP
    old_cert_serial: int | None = None  # id-regCtrl-oldCertID (kur, RFC 4211 §6.5)
    old_cert_issuer: bytes | None = None  # its issuer Name, DER


@dataclass(frozen=True)
class RevocationRequest:
    serial: int
    issuer: bytes | None  # Name, DER
    reason: str  # CRLReason as pki.models.Reason names it


@dataclass(frozen=True)
class Confirmation:
    cert_req_id: int
    cert_hash: bytes
    hash_alg: str | None  # RFC 9480 hashAlg
    accepted: bool
    reason: str


@dataclass(frozen=True)
class InfoRequest:
    oid: str
    value: bytes | None  # DER


def cert_requests(message: Message) -> list[CertRequest]:
    """The CertReqMessages of an ir / cr / kur, each with a verified POP (badPOP
    otherwise) and a template that names a subject and a public key (badCertTemplate)."""
    if message.body_type == "p10cr":
        return [p10_request(message)]
    out = [_crmf(msg) for msg in message.body]
    if not out:
        raise RequestError("no certificate request in the message", "badRequest")
    ids = [r.cert_req_id for r in out]
    if len(set(ids)) != len(ids):
        raise RequestError("certReqId values repeat", "duplicateCertReq")
    return out


def p10_request(message: Message) -> CertRequest:
    try:
        info = inspect(message.body.untag().dump())
    except CsrError as exc:
        raise RequestError(f"unreadable PKCS#10 request: {exc}", "badDataFormat") from None
    if not info.signature_valid:
        raise RequestError("the PKCS#10 signature does not verify", "badPOP")
    return CertRequest(-1, info)  # RFC 4210 §5.1.3 / RFC 9483 §4.1.4: certReqId -1


def _crmf(msg: asn1.CertReqMsg) -> CertRequest:
    request = msg["certReq"]
    template = request["certTemplate"]
    if template["publicKey"].native is None:
        raise RequestError(
            "the template has no public key (central key generation is not offered)",
            "badCertTemplate",
        )
    if template["subject"].native is None:
        raise RequestError("the template has no subject", "badCertTemplate")
    spki = template["publicKey"].untag().dump(force=True)
    try:
        public_key = serialization.load_der_public_key(spki)
    except (ValueError, TypeError) as exc:
        raise RequestError(f"unusable public key: {exc}", "badCertTemplate") from None
    pop_ok, pop_hash = _pop(msg, request.dump(), public_key)
    subject = _name(template["subject"])
    sans, ekus, ext_names = _extensions(template["extensions"])
    key_type, key_size, curve = key_facts(public_key)
    info = CsrInfo(
        der=request.dump(),
        subject=name_pairs(subject),
        subject_text=subject.rfc4514_string(),
        public_key_der=spki,
        key_type=key_type,
        key_size=key_size,
        curve=curve,
        signature_valid=pop_ok,
        signature_hash=pop_hash,
        dns_names=sans.get("dns_name", []),
        ip_addresses=sans.get("ip_address", []),
        emails=sans.get("rfc822_name", []),
        uris=sans.get("uniform_resource_identifier", []),
        requested_extensions=ext_names,
        requested_ekus=ekus,
    )
    serial, issuer = _old_cert_id(request["controls"])
    return CertRequest(request["certReqId"].native, info, serial, issuer)


def _pop(
    msg: asn1.CertReqMsg, cert_request_der: bytes, public_key: object
) -> tuple[bool, str | None]:
    popo = msg["popo"]
    if not present(popo):  # not `.native is None`: raVerified's value is a NULL
        raise RequestError("no proof of possession", "badPOP")
    if popo.name == "raVerified":
        # RFC 4211 §4: only an RA may claim it; an end entity speaks for itself.
        raise RequestError("raVerified is not accepted from an end entity", "badPOP")
    if popo.name != "signature":
        raise RequestError(f"POP by {popo.name} is not supported", "badPOP")
    signing = popo.chosen
    if signing["poposkInput"].native is not None:
        raise RequestError("poposkInput is not supported (RFC 9483 §4.1.1)", "badPOP")
    try:
        ok = signature_valid(
            signing["algorithmIdentifier"],
            public_key,
            signing["signature"].native,
            cert_request_der,
        )
    except ProtectionError as exc:
        raise RequestError(f"POP: {exc}", "badAlg") from None
    if not ok:
        raise RequestError("the POP signature over the CertRequest does not verify", "badPOP")
    return True, signing["algorithmIdentifier"].hash_algo if signing[
        "algorithmIdentifier"
    ].signature_algo != "ed25519" else None


def _name(name: ax509.Name) -> x509.Name:
    try:
        attributes = [
            x509.NameAttribute(ObjectIdentifier(atv["type"].dotted), str(atv["value"].native))
            for rdn in name.chosen
            for atv in rdn
        ]
        return x509.Name(attributes)
    except (ValueError, TypeError) as exc:
        raise RequestError(f"unreadable subject: {exc}", "badCertTemplate") from None


def _extensions(extensions: ax509.Extensions) -> tuple[dict[str, list[str]], list[str], list[str]]:
    sans: dict[str, list[str]] = {}
    ekus: list[str] = []
    names: list[str] = []
    if extensions.native is None:
        return sans, ekus, names
    for ext in extensions:
        kind = ext["extn_id"].native
        names.append(kind)
        if kind == "subject_alt_name":
            for general_name in ext["extn_value"].parsed:
                sans.setdefault(general_name.name, []).append(str(general_name.native))
        elif kind == "extended_key_usage":
            ekus += [eku_name(ObjectIdentifier(o.dotted)) for o in ext["extn_value"].parsed]
    return sans, ekus, names


def _old_cert_id(controls: asn1.Controls) -> tuple[int | None, bytes | None]:
    if controls.native is None:
        return None, None
    for control in controls:
        if control["type"].dotted == asn1.REG_CTRL_OLD_CERT_ID:
            cert_id = asn1.CertId.load(control["value"].dump())
            issuer = cert_id["issuer"]
            name = (
                issuer.chosen.untag().dump(force=True) if issuer.name == "directory_name" else None
            )
            return cert_id["serialNumber"].native, name
    return None, None


_REASONS = {
    "unspecified": "unspecified",
    "key_compromise": "keyCompromise",
    "ca_compromise": "cACompromise",
    "affiliation_changed": "affiliationChanged",
    "superseded": "superseded",
    "cessation_of_operation": "cessationOfOperation",
    "certificate_hold": "certificateHold",
    "privilege_withdrawn": "privilegeWithdrawn",
    "aa_compromise": "aACompromise",
}


def _reason(value: bytes) -> str:
    try:
        native = crl.CRLReason.load(value).native
    except ValueError as exc:
        raise RequestError(f"unreadable reasonCode: {exc}", "badDataFormat") from None
    if native not in _REASONS:
        raise RequestError(f"revocation reason {native} is not accepted")
    return _REASONS[native]


def revocation_requests(message: Message) -> list[RevocationRequest]:
    out = []
    for details in message.body:
        template = details["certDetails"]
        if template["serialNumber"].native is None:
            raise RequestError("the revocation request names no serial number", "badCertId")
        if template["issuer"].native is None:  # RFC 9483 §4.2: issuer and serial REQUIRED
            raise RequestError("the revocation request names no issuer", "badCertId")
        reason = "unspecified"  # reasonCode absent: as RFC 9483 §4.2 says to send it unknown
        if details["crlEntryDetails"].native is not None:
            for ext in details["crlEntryDetails"]:
                if ext["extn_id"].dotted == "2.5.29.21":  # reasonCode (RFC 5280 §5.3.1)
                    reason = _reason(ext["extn_value"].native)
        issuer = template["issuer"].untag().dump(force=True)
        out.append(RevocationRequest(template["serialNumber"].native, issuer, reason))
    if len(out) != 1:
        raise RequestError("one certificate per revocation request (RFC 9483 §4.2)")
    return out


def confirmations(message: Message) -> list[Confirmation]:
    out = []
    for status in message.body:
        info = status["statusInfo"]
        accepted = info.native is None or info["status"].native in (0, 1)
        reason = "; ".join(info["statusString"].native or []) if info.native is not None else ""
        hash_alg = status["hashAlg"]["algorithm"].native if status["hashAlg"].native else None
        out.append(
            Confirmation(
                status["certReqId"].native, status["certHash"].native, hash_alg, accepted, reason
            )
        )
    return out


_CONFIRM_HASHES = ("sha224", "sha256", "sha384", "sha512")  # RFC 9481 §2: no MD5, no SHA-1


def cert_hash(cert_der: bytes, hash_alg: str | None = None) -> bytes:
    """certHash of CertStatus (RFC 4210 §5.3.18 as RFC 9480 §2.10 updates it): the hash of
    the certificate's signature algorithm (SHA-512 for Ed25519, RFC 9481 §2). `hash_alg`
    (the certConf's hashAlg) is for a signature algorithm that names no hash; where the
    signature names one, certHash SHALL use it, so another hashAlg is refused (badAlg)."""
    cert = ax509.Certificate.load(cert_der)
    algorithm = cert["signature_algorithm"]
    own = None if algorithm.signature_algo == "ed25519" else algorithm.hash_algo
    if hash_alg is not None and hash_alg not in _CONFIRM_HASHES:
        raise RequestError(f"hashAlg {hash_alg} is not acceptable (RFC 9481 §2)", "badAlg")
    if hash_alg is not None and own is not None and hash_alg != own:
        raise RequestError(
            f"hashAlg {hash_alg}: the certificate is signed with {own}, which certHash must "
            "use (RFC 9480 §2.10)",
            "badAlg",
        )
    return hashlib.new(hash_alg or own or "sha512", cert_der).digest()


def info_requests(message: Message) -> list[InfoRequest]:
    return [
        InfoRequest(
            itav["infoType"].dotted,
            itav["infoValue"].dump() if present(itav["infoValue"]) else None,
        )
        for itav in message.body
    ]


def root_ca_cert(value: bytes | None) -> bytes | None:
    """The old root a rootCaKeyUpdate request names (id-it-rootCaCert, RFC 9483 §4.3.2)."""
    if value is None:
        return None
    try:
        return ax509.Certificate.load(value).dump()
    except ValueError:
        raise RequestError("unreadable rootCaCert", "badDataFormat") from None
