"""Building protected CMP responses (RFC 4210 §5.3, RFC 9483 §4): ip / cp / kup (caPubs for
an ir, RFC 9483 §4.1.1), rp, pkiConf, genp and error, each protected by the MAC the request
used (RFC 9483 §3.2) or signed with the domain's CMP protection key, extraCerts carrying the
protection certificate and its chain (RFC 9483 §3.3)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from asn1crypto import algos, core, keys
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pki.crypto.backends.software import SoftwareBackend
from pki.crypto.cmp import asn1
from pki.crypto.cmp.message import Header
from pki.crypto.cmp.protection import MacSpec, answer_mac_algorithm, compute_mac
from pki.crypto.keys import KeyAlgorithm
from pki.crypto.names import SUBJECT_ATTRIBUTES

ACCEPTED, GRANTED_WITH_MODS, REJECTION = 0, 1, 2
_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"  # RFC 5758 §3.2, parameters absent
# An unprotected error message with no header values (NULL-DN sender and recipient, pvno 2,
# failInfo systemFailure): the last resort when nothing better can be encoded.
LAST_RESORT_ERROR = bytes.fromhex("301d300b020102a4023000a4023000b70e300c300a02010203050600000040")


@dataclass(frozen=True)
class Status:
    status: int = ACCEPTED
    text: str = ""
    fail: frozenset[str] = frozenset()

    @classmethod
    def rejection(cls, text: str, *fail: str) -> Status:
        return cls(REJECTION, text, frozenset(fail))

    def asn1(self) -> asn1.PKIStatusInfo:
        value: dict[str, object] = {"status": self.status}
        if self.text:
            value["statusString"] = [self.text[:1000]]
        if self.fail:
            value["failInfo"] = set(self.fail)
        return asn1.PKIStatusInfo(value)


@dataclass(frozen=True)
class MacKey:
    secret: bytes
    spec: MacSpec
    sender_kid: bytes | None  # the reference the request named (RFC 9483 §3.2)


class SigningKey:
    """The domain's CMP protection key and certificate, loaded once per process."""

    def __init__(self, key_ref: str, cert_der: bytes, chain: list[bytes]) -> None:
        key = SoftwareBackend(alias="cmp").signer(key_ref).private_key
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("a CMP protection key is EC P-256")
        self.key = key
        self.cert_der = bytes(cert_der)
        self.chain = [bytes(c) for c in chain]
        cert = x509.load_der_x509_certificate(self.cert_der)
        self.subject = ax509.Certificate.load(self.cert_der).subject
        self.key_id = cert.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


_signing: dict[tuple[str, bytes], SigningKey] = {}
_lock = threading.Lock()


def signing_key(key_ref: str, cert_der: bytes, chain: list[bytes]) -> SigningKey:
    cache_key = (key_ref, bytes(cert_der))
    found = _signing.get(cache_key)
    if found is None:
        found = SigningKey(key_ref, cert_der, chain)
        with _lock:
            if len(_signing) > 64:
                _signing.clear()
            _signing[cache_key] = found
    return found


def new_protection_key() -> tuple[str, bytes]:
    """A fresh EC P-256 CMP protection key: (sealed reference, SubjectPublicKeyInfo DER)."""
    generated = SoftwareBackend(alias="cmp").generate(KeyAlgorithm.EC_P256, "cmp")
    public = serialization.load_pem_public_key(generated.public_key_pem.encode())
    spki = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return generated.reference, spki


@dataclass
class Reply:
    """What every response shares, taken from the request (RFC 4210 §5.1.1)."""

    request: Header | None
    protection: MacKey | SigningKey | None
    sender_name: bytes | None = None  # Name DER for MAC-protected and unprotected answers
    implicit_confirm: bool = False
    extra_certs: list[bytes] = field(default_factory=list)
    sender_nonce: bytes = field(default_factory=lambda: os.urandom(16))

    def header(self, algorithm: algos.AlgorithmIdentifier | None) -> asn1.PKIHeader:
        request = self.request
        value: dict[str, object] = {
            "pvno": _pvno(request),
            "sender": self._sender(),
            "recipient": ax509.GeneralName.load(request.sender)
            if request is not None
            else ax509.GeneralName({"directory_name": ax509.Name.build({})}),
            "messageTime": datetime.now(UTC).replace(microsecond=0),
            "senderNonce": self.sender_nonce,
        }
        if algorithm is not None:
            value["protectionAlg"] = algorithm
        if isinstance(self.protection, SigningKey):
            value["senderKID"] = self.protection.key_id
        elif isinstance(self.protection, MacKey) and self.protection.sender_kid is not None:
            value["senderKID"] = self.protection.sender_kid
        if request is not None:
            if request.transaction_id is not None:
                value["transactionID"] = request.transaction_id
            if request.sender_nonce is not None:
                value["recipNonce"] = request.sender_nonce
        if self.implicit_confirm:
            value["generalInfo"] = [
                {"infoType": asn1.IT_IMPLICIT_CONFIRM, "infoValue": core.Null()}
            ]
        return asn1.PKIHeader(value)

    def _sender(self) -> ax509.GeneralName:
        if isinstance(self.protection, SigningKey):
            return ax509.GeneralName({"directory_name": self.protection.subject})
        if self.sender_name is not None:
            return ax509.GeneralName({"directory_name": ax509.Name.load(self.sender_name)})
        return ax509.GeneralName({"directory_name": ax509.Name.build({})})

    def encode(self, body_name: str, body: object) -> bytes:
        protection = self.protection
        algorithm: algos.AlgorithmIdentifier | None = None
        if isinstance(protection, MacKey):
            algorithm = answer_mac_algorithm(protection.spec)
        elif isinstance(protection, SigningKey):
            algorithm = algos.AlgorithmIdentifier({"algorithm": _ECDSA_WITH_SHA256})
        header = self.header(algorithm)
        pkibody = asn1.PKIBody(name=body_name, value=body)
        part = asn1.ProtectedPart({"header": header, "body": pkibody}).dump()
        message: dict[str, object] = {"header": header, "body": pkibody}
        if isinstance(protection, MacKey):
            assert algorithm is not None
            message["protection"] = compute_mac(algorithm, protection.secret, part)
        elif isinstance(protection, SigningKey):
            message["protection"] = protection.sign(part)
        extra = list(self.extra_certs)
        if isinstance(protection, SigningKey):
            extra = [protection.cert_der, *protection.chain] + [
                c for c in extra if c not in (protection.cert_der, *protection.chain)
            ]
        if extra:
            message["extraCerts"] = [ax509.Certificate.load(c) for c in _unique(extra)]
        return asn1.PKIMessage(message).dump()


def answer_sender(request: Header | None, ca_cert: Callable[[], bytes | None]) -> bytes | None:
    """The sender Name (DER) of an answer not signed by our protection certificate (MAC or
    unprotected): whom the request addressed when it named someone (RFC 9483 §3.1: a
    response's sender is the request's recipient), else the CA that answers (asked for only
    then); None (NULL-DN) when neither is known."""
    if request is not None:
        recipient = ax509.GeneralName.load(request.recipient)
        if recipient.name == "directory_name" and recipient.chosen.native:
            return bytes(recipient.chosen.untag().dump(force=True))
    answering = ca_cert()
    if answering is not None:
        return bytes(ax509.Certificate.load(answering).subject.dump())
    return None


def _pvno(request: Header | None) -> int:
    """The request's version when we speak it (cmp2000 = 2, cmp2021 = 3); else the nearest
    we speak: 3 for a higher one, 2 for a lower one (RFC 4210 §7 as RFC 9480 §2.20 updates
    it)."""
    if request is None:
        return 2
    return min(max(request.pvno, 2), 3)


def _unique(items: list[bytes]) -> list[bytes]:
    seen: set[bytes] = set()
    return [c for c in items if not (c in seen or seen.add(c))]  # type: ignore[func-returns-value]


@dataclass(frozen=True)
class Certified:
    cert_req_id: int
    status: Status
    certificate: bytes | None = None


def cert_rep(reply: Reply, kind: str, answers: list[Certified], ca_pubs: list[bytes]) -> bytes:
    """ip / cp / kup (RFC 4210 §5.3.4)."""
    responses = []
    for answer in answers:
        item: dict[str, object] = {"certReqId": answer.cert_req_id, "status": answer.status.asn1()}
        if answer.certificate is not None:
            item["certifiedKeyPair"] = {
                "certOrEncCert": asn1.CertOrEncCert(
                    name="certificate", value=ax509.Certificate.load(answer.certificate)
                )
            }
        responses.append(item)
    value: dict[str, object] = {"response": responses}
    if ca_pubs:
        value["caPubs"] = [ax509.Certificate.load(c) for c in ca_pubs]
    return reply.encode(kind, asn1.CertRepMessage(value))


def rev_rep(reply: Reply, status: Status) -> bytes:
    return reply.encode("rp", asn1.RevRepContent({"status": [status.asn1()]}))


def pki_conf(reply: Reply) -> bytes:
    return reply.encode("pkiconf", core.Null())


def gen_rep(reply: Reply, items: list[tuple[str, bytes | None]]) -> bytes:
    values = [
        {"infoType": oid, **({"infoValue": core.Any.load(der)} if der is not None else {})}
        for oid, der in items
    ]
    return reply.encode("genp", asn1.InfoTypeAndValues(values))


def error(reply: Reply, status: Status) -> bytes:
    """An error message (RFC 4210 §5.3.21): rejection, the reason, the failInfo bits."""
    return reply.encode("error", asn1.ErrorMsgContent({"pKIStatusInfo": status.asn1()}))


# --- genp values (RFC 9483 §4.3) ----------------------------------------------------------


def ca_certs_value(certificates: list[bytes]) -> bytes:
    return asn1.Certificates([ax509.Certificate.load(c) for c in certificates]).dump()


def root_ca_key_update_value(
    new_with_new: bytes, new_with_old: bytes | None, old_with_new: bytes | None
) -> bytes:
    value: dict[str, object] = {"newWithNew": ax509.Certificate.load(new_with_new)}
    if new_with_old is not None:
        value["newWithOld"] = ax509.Certificate.load(new_with_old)
    if old_with_new is not None:
        value["oldWithNew"] = ax509.Certificate.load(old_with_new)
    return asn1.RootCaKeyUpdateContent(value).dump()


_REG_CTRL_ALG_ID = "1.3.6.1.5.5.7.5.1.11"  # RFC 9483 §4.3.3
_REG_CTRL_RSA_KEY_LEN = "1.3.6.1.5.5.7.5.1.12"
_CURVE_NAMES = {"P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1"}


def cert_req_template_value(
    subject_required: list[str], key_types: list[str], curves: list[str], min_rsa_bits: int
) -> bytes:
    """CertReqTemplateContent: an empty subject with the RDNs the profile requires (empty
    values: the client fills them in), and the key types it takes (RFC 9483 §4.3.3)."""
    rdns = [
        [{"type": SUBJECT_ATTRIBUTES[a].dotted_string, "value": core.Any.load(b"\x0c\x00")}]
        for a in subject_required
        if a in SUBJECT_ATTRIBUTES
    ]
    template = {"subject": ax509.Name(name="", value=ax509.RDNSequence(rdns))}
    spec: list[dict[str, object]] = []
    if "ec" in key_types:
        for curve in curves:
            if curve in _CURVE_NAMES:
                alg = keys.PublicKeyAlgorithm(
                    {
                        "algorithm": "ec",
                        "parameters": keys.ECDomainParameters(
                            name="named", value=_CURVE_NAMES[curve]
                        ),
                    }
                )
                spec.append({"type": _REG_CTRL_ALG_ID, "value": core.Any.load(alg.dump())})
    if "ed25519" in key_types:
        alg = keys.PublicKeyAlgorithm({"algorithm": "ed25519"})
        spec.append({"type": _REG_CTRL_ALG_ID, "value": core.Any.load(alg.dump())})
    if "rsa" in key_types:
        spec.append(
            {
                "type": _REG_CTRL_RSA_KEY_LEN,
                "value": core.Any.load(core.Integer(min_rsa_bits).dump()),
            }
        )
    value: dict[str, object] = {"certTemplate": template}
    if spec:
        value["keySpec"] = spec
    return asn1.CertReqTemplateContent(value).dump()
