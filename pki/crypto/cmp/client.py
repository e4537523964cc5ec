"""A small CMP client (RFC 9483 end entity side) on the same ASN.1: what the tests use for
what `openssl cmp` 3.0 cannot send (PBMAC1, rootCaKeyUpdate, certReqTemplate, crafted
failures) and what the benchmark drives."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, core, crl, keys
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from pki.crypto.cmp import asn1
from pki.crypto.cmp.message import present
from pki.crypto.cmp.protection import compute_mac, pbm_algorithm, pbmac1_algorithm
from pki.crypto.cmp.requests import cert_hash


@dataclass
class Session:
    """One transaction's header values."""

    sender: str = ""  # RFC 4514-ish "CN=x"; empty = NULL-DN
    recipient: str = ""  # likewise
    reference: bytes | None = None
    secret: bytes | None = None
    mac: str = "pbm"  # "pbm" | "pbmac1"
    signer_key: PrivateKeyTypes | None = None
    signer_chain: tuple[bytes, ...] = ()  # DER, the signer's certificate first
    transaction_id: bytes = b""
    implicit_confirm: bool = False
    profile: str | None = None
    time_offset: timedelta = timedelta()
    pvno: int = 2

    def __post_init__(self) -> None:
        self.transaction_id = self.transaction_id or os.urandom(16)


def _name(text: str) -> ax509.Name:
    if not text:
        return ax509.Name.build({})
    parts = dict(p.split("=", 1) for p in text.split(","))
    table = {"CN": "common_name", "O": "organization_name", "serialNumber": "serial_number"}
    return ax509.Name.build({table[k]: v for k, v in parts.items()})


def _sign(key: PrivateKeyTypes, data: bytes) -> tuple[str, bytes]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "sha256_ecdsa", key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        from cryptography.hazmat.primitives.asymmetric import padding

        return "sha256_rsa", key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519", key.sign(data)
    raise ValueError("unsupported key")


def message(
    session: Session,
    body_name: str,
    body: object,
    *,
    sender_nonce: bytes | None = None,
    recip_nonce: bytes | None = None,
) -> bytes:
    header: dict[str, object] = {
        "pvno": session.pvno,
        "sender": ax509.GeneralName({"directory_name": _name(session.sender)}),
        "recipient": ax509.GeneralName({"directory_name": _name(session.recipient)}),
        "messageTime": (datetime.now(UTC) + session.time_offset).replace(microsecond=0),
        "transactionID": session.transaction_id,
        "senderNonce": sender_nonce if sender_nonce is not None else os.urandom(16),
    }
    if recip_nonce is not None:
        header["recipNonce"] = recip_nonce
    info = []
    if session.implicit_confirm:
        info.append({"infoType": asn1.IT_IMPLICIT_CONFIRM, "infoValue": core.Null()})
    if session.profile:
        info.append(
            {
                "infoType": asn1.IT_CERT_PROFILE,
                "infoValue": core.Any.load(asn1.CertProfileValue([session.profile]).dump()),
            }
        )
    if info:
        header["generalInfo"] = info
    algorithm: algos.AlgorithmIdentifier | None = None
    if session.secret is not None:
        algorithm = pbmac1_algorithm() if session.mac == "pbmac1" else pbm_algorithm()
        header["senderKID"] = session.reference
    elif session.signer_key is not None:
        cert = x509.load_der_x509_certificate(session.signer_chain[0])
        header["senderKID"] = cert.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest
        header["sender"] = ax509.GeneralName(
            {"directory_name": ax509.Certificate.load(session.signer_chain[0]).subject}
        )
        name, _ = _sign(session.signer_key, b"")
        algorithm = algos.AlgorithmIdentifier.load(
            algos.SignedDigestAlgorithm({"algorithm": name}).dump()
        )
    if algorithm is not None:
        header["protectionAlg"] = algorithm
    pkiheader = asn1.PKIHeader(header)
    # a PKIBody as is: how a test sends a body this encoder has no type for (pollReq, krr...)
    pkibody = body if isinstance(body, asn1.PKIBody) else asn1.PKIBody(name=body_name, value=body)
    part = asn1.ProtectedPart({"header": pkiheader, "body": pkibody}).dump()
    out: dict[str, object] = {"header": pkiheader, "body": pkibody}
    if session.secret is not None and algorithm is not None:
        out["protection"] = compute_mac(algorithm, session.secret, part)
    elif session.signer_key is not None:
        out["protection"] = _sign(session.signer_key, part)[1]
        out["extraCerts"] = [ax509.Certificate.load(c) for c in session.signer_chain]
    return asn1.PKIMessage(out).dump()


def cert_request(
    key: PrivateKeyTypes,
    subject: str,
    dns_names: list[str] | None = None,
    *,
    cert_req_id: int = 0,
    pop: str = "signature",
    old_cert: bytes | None = None,
    old_cert_issuer: str | None = None,  # another issuer in oldCertID than old_cert's
) -> asn1.CertReqMessages:
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    template: dict[str, object] = {
        "subject": _name(subject),
        "publicKey": keys.PublicKeyInfo.load(spki),
    }
    if dns_names:
        san = ax509.GeneralNames([ax509.GeneralName({"dns_name": d}) for d in dns_names])
        template["extensions"] = [{"extn_id": "subject_alt_name", "extn_value": san}]
    request: dict[str, object] = {"certReqId": cert_req_id, "certTemplate": template}
    if old_cert is not None:
        cert = ax509.Certificate.load(old_cert)
        cert_id = asn1.CertId(
            {
                "issuer": ax509.GeneralName(
                    {
                        "directory_name": cert.issuer
                        if old_cert_issuer is None
                        else _name(old_cert_issuer)
                    }
                ),
                "serialNumber": cert.serial_number,
            }
        )
        request["controls"] = [
            {"type": asn1.REG_CTRL_OLD_CERT_ID, "value": core.Any.load(cert_id.dump())}
        ]
    certreq = asn1.CertRequest(request)
    msg: dict[str, object] = {"certReq": certreq}
    if pop == "signature":
        name, signature = _sign(key, certreq.dump())
        msg["popo"] = asn1.ProofOfPossession(
            name="signature",
            value={"algorithmIdentifier": {"algorithm": name}, "signature": signature},
        )
    elif pop == "raVerified":
        msg["popo"] = asn1.ProofOfPossession(name="raVerified", value=core.Null())
    elif pop == "bad":
        name, signature = _sign(key, b"not the request")
        msg["popo"] = asn1.ProofOfPossession(
            name="signature",
            value={"algorithmIdentifier": {"algorithm": name}, "signature": signature},
        )
    return asn1.CertReqMessages([msg])


def cert_conf(
    certificate: bytes, cert_req_id: int = 0, hash_alg: str | None = None
) -> asn1.CertConfirmContent:
    """With `hash_alg`, certHash is that hash and CertStatus names it (RFC 9480 §2.10)."""
    if hash_alg is None:
        return asn1.CertConfirmContent(
            [{"certHash": cert_hash(certificate), "certReqId": cert_req_id}]
        )
    digest = hashlib.new(hash_alg, certificate).digest()
    return asn1.CertConfirmContent(
        [{"certHash": digest, "certReqId": cert_req_id, "hashAlg": {"algorithm": hash_alg}}]
    )


def rev_req(
    certificate: bytes,
    reason: str = "key_compromise",
    *,
    with_issuer: bool = True,
    reason_der: bytes | None = None,  # another reasonCode value, as is
) -> asn1.RevReqContent:
    cert = ax509.Certificate.load(certificate)
    template: dict[str, object] = {"serialNumber": cert.serial_number}
    if with_issuer:
        template["issuer"] = cert.issuer
    value = reason_der if reason_der is not None else crl.CRLReason(reason).dump()
    ext = {"extn_id": "2.5.29.21", "extn_value": value}
    return asn1.RevReqContent([{"certDetails": template, "crlEntryDetails": [ext]}])


def gen_msg(*oids: str, values: dict[str, bytes] | None = None) -> asn1.InfoTypeAndValues:
    values = values or {}
    return asn1.InfoTypeAndValues(
        [
            {"infoType": o, **({"infoValue": core.Any.load(values[o])} if o in values else {})}
            for o in oids
        ]
    )


@dataclass(frozen=True)
class Answer:
    body_type: str
    status: int | None
    fail: set[str]
    text: str
    certificate: bytes | None
    ca_pubs: list[bytes]
    extra_certs: list[bytes]
    sender_nonce: bytes | None
    recip_nonce: bytes | None
    transaction_id: bytes | None
    implicit_confirm: bool
    protected: bool
    general: dict[str, bytes | None]
    raw: asn1.PKIMessage


def read(der: bytes, secret: bytes | None = None) -> Answer:
    """The response's facts; with `secret`, its MAC is checked (ValueError if it fails)."""
    msg = asn1.PKIMessage.load(der, strict=True)
    header = msg["header"]
    body = msg["body"]
    status = None
    fail: set[str] = set()
    text = ""
    cert = None
    ca_pubs: list[bytes] = []
    info = None
    if body.name == "error":
        info = body.chosen["pKIStatusInfo"]
    elif body.name in ("ip", "cp", "kup"):
        response = body.chosen["response"][0]
        info = response["status"]
        if response["certifiedKeyPair"].native is not None:
            cert = response["certifiedKeyPair"]["certOrEncCert"].chosen.untag().dump()
        if body.chosen["caPubs"].native is not None:
            ca_pubs = [c.dump() for c in body.chosen["caPubs"]]
    elif body.name == "rp":
        info = body.chosen["status"][0]
    if info is not None:
        status = info["status"].native
        fail = set(info["failInfo"].native or [])
        text = "; ".join(info["statusString"].native or [])
    general: dict[str, bytes | None] = {}
    if body.name == "genp":
        general = {
            i["infoType"].dotted: i["infoValue"].dump() if present(i["infoValue"]) else None
            for i in body.chosen
        }
    gi = list(header["generalInfo"]) if present(header["generalInfo"]) else []
    if secret is not None and msg["protection"].native is not None:
        from pki.crypto.cmp.protection import protected_part

        part = protected_part(header, body)
        if compute_mac(header["protectionAlg"], secret, part) != msg["protection"].native:
            raise ValueError("the response's MAC does not verify")
    return Answer(
        body.name,
        status,
        fail,
        text,
        cert,
        ca_pubs,
        [c.dump() for c in msg["extraCerts"]] if msg["extraCerts"].native else [],
        header["senderNonce"].native,
        header["recipNonce"].native,
        header["transactionID"].native,
        any(i["infoType"].dotted == asn1.IT_IMPLICIT_CONFIRM for i in gi),
        msg["protection"].native is not None,
        general,
        msg,
    )
