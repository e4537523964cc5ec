"""ASN.1 of CMP (RFC 4210 Appendix F as updated by RFC 9480, module PKIXCMP-2021: EXPLICIT
TAGS) and of CRMF (RFC 4211 Appendix B: IMPLICIT TAGS; a tagged CHOICE such as Name or Time
is explicit all the same, X.680 §31.2.7), in asn1crypto. Only what the Lightweight CMP
profile (RFC 9483) uses is spelled out; the other bodies are kept as opaque values."""

from __future__ import annotations

from asn1crypto import algos, core, csr, keys, x509

# --- RFC 4211 (CRMF), IMPLICIT TAGS ------------------------------------------------------


class OptionalValidity(core.Sequence):
    _fields = [
        ("notBefore", x509.Time, {"explicit": 0, "optional": True}),
        ("notAfter", x509.Time, {"explicit": 1, "optional": True}),
    ]


class CertTemplate(core.Sequence):
    _fields = [
        ("version", core.Integer, {"implicit": 0, "optional": True}),
        ("serialNumber", core.Integer, {"implicit": 1, "optional": True}),
        ("signingAlg", algos.SignedDigestAlgorithm, {"implicit": 2, "optional": True}),
        ("issuer", x509.Name, {"explicit": 3, "optional": True}),
        ("validity", OptionalValidity, {"implicit": 4, "optional": True}),
        ("subject", x509.Name, {"explicit": 5, "optional": True}),
        ("publicKey", keys.PublicKeyInfo, {"implicit": 6, "optional": True}),
        ("issuerUID", core.BitString, {"implicit": 7, "optional": True}),
        ("subjectUID", core.BitString, {"implicit": 8, "optional": True}),
        ("extensions", x509.Extensions, {"implicit": 9, "optional": True}),
    ]


class AttributeTypeAndValue(core.Sequence):
    _fields = [("type", core.ObjectIdentifier), ("value", core.Any)]


class Controls(core.SequenceOf):
    _child_spec = AttributeTypeAndValue


class CertRequest(core.Sequence):
    _fields = [
        ("certReqId", core.Integer),
        ("certTemplate", CertTemplate),
        ("controls", Controls, {"optional": True}),
    ]


class POPOSigningKeyInput(core.Sequence):
    _fields = [("authInfo", core.Any), ("publicKey", keys.PublicKeyInfo)]


class POPOSigningKey(core.Sequence):
    _fields = [
        ("poposkInput", POPOSigningKeyInput, {"implicit": 0, "optional": True}),
        ("algorithmIdentifier", algos.SignedDigestAlgorithm),
        ("signature", core.OctetBitString),
    ]


class ProofOfPossession(core.Choice):
    _alternatives = [
        ("raVerified", core.Null, {"implicit": 0}),
        ("signature", POPOSigningKey, {"implicit": 1}),
        ("keyEncipherment", core.Any, {"explicit": 2}),
        ("keyAgreement", core.Any, {"explicit": 3}),
    ]


class CertReqMsg(core.Sequence):
    _fields = [
        ("certReq", CertRequest),
        ("popo", ProofOfPossession, {"optional": True}),
        ("regInfo", Controls, {"optional": True}),
    ]


class CertReqMessages(core.SequenceOf):
    _child_spec = CertReqMsg


class CertId(core.Sequence):
    """id-regCtrl-oldCertID's value (RFC 4211 §6.5), and rp's revCerts."""

    _fields = [("issuer", x509.GeneralName), ("serialNumber", core.Integer)]


# --- RFC 4210 / RFC 9480 (CMP), EXPLICIT TAGS ---------------------------------------------


class PKIFreeText(core.SequenceOf):
    _child_spec = core.UTF8String


class PKIFailureInfo(core.BitString):
    # RFC 4210 §5.2.3 (bits 0..26; RFC 9480 changed none of them).
    _map = {
        0: "badAlg",
        1: "badMessageCheck",
        2: "badRequest",
        3: "badTime",
        4: "badCertId",
        5: "badDataFormat",
        6: "wrongAuthority",
        7: "incorrectData",
        8: "missingTimeStamp",
        9: "badPOP",
        10: "certRevoked",
        11: "certConfirmed",
        12: "wrongIntegrity",
        13: "badRecipientNonce",
        14: "timeNotAvailable",
        15: "unacceptedPolicy",
        16: "unacceptedExtension",
        17: "addInfoNotAvailable",
        18: "badSenderNonce",
        19: "badCertTemplate",
        20: "signerNotTrusted",
        21: "transactionIdInUse",
        22: "unsupportedVersion",
        23: "notAuthorized",
        24: "systemUnavail",
        25: "systemFailure",
        26: "duplicateCertReq",
    }


class PKIStatusInfo(core.Sequence):
    _fields = [
        ("status", core.Integer),
        ("statusString", PKIFreeText, {"optional": True}),
        ("failInfo", PKIFailureInfo, {"optional": True}),
    ]


class InfoTypeAndValue(core.Sequence):
    _fields = [("infoType", core.ObjectIdentifier), ("infoValue", core.Any, {"optional": True})]


class InfoTypeAndValues(core.SequenceOf):
    _child_spec = InfoTypeAndValue


class Certificates(core.SequenceOf):
    _child_spec = x509.Certificate


class CertOrEncCert(core.Choice):
    _alternatives = [
        ("certificate", x509.Certificate, {"explicit": 0}),
        ("encryptedCert", core.Any, {"explicit": 1}),
    ]


class CertifiedKeyPair(core.Sequence):
    _fields = [
        ("certOrEncCert", CertOrEncCert),
        ("privateKey", core.Any, {"explicit": 0, "optional": True}),
        ("publicationInfo", core.Any, {"explicit": 1, "optional": True}),
    ]


class CertResponse(core.Sequence):
    _fields = [
        ("certReqId", core.Integer),
        ("status", PKIStatusInfo),
        ("certifiedKeyPair", CertifiedKeyPair, {"optional": True}),
        ("rspInfo", core.OctetString, {"optional": True}),
    ]


class CertResponses(core.SequenceOf):
    _child_spec = CertResponse


class CertRepMessage(core.Sequence):
    _fields = [
        ("caPubs", Certificates, {"explicit": 1, "optional": True}),
        ("response", CertResponses),
    ]


class RevDetails(core.Sequence):
    _fields = [
        ("certDetails", CertTemplate),
        ("crlEntryDetails", x509.Extensions, {"optional": True}),
    ]


class RevReqContent(core.SequenceOf):
    _child_spec = RevDetails


class PKIStatusInfos(core.SequenceOf):
    _child_spec = PKIStatusInfo


class CertIds(core.SequenceOf):
    _child_spec = CertId


class RevRepContent(core.Sequence):
    _fields = [
        ("status", PKIStatusInfos),
        ("revCerts", CertIds, {"explicit": 0, "optional": True}),
        ("crls", core.Any, {"explicit": 1, "optional": True}),
    ]


class CertStatus(core.Sequence):
    _fields = [
        ("certHash", core.OctetString),
        ("certReqId", core.Integer),
        ("statusInfo", PKIStatusInfo, {"optional": True}),
        ("hashAlg", algos.DigestAlgorithm, {"explicit": 0, "optional": True}),  # RFC 9480
    ]


class CertConfirmContent(core.SequenceOf):
    _child_spec = CertStatus


class ErrorMsgContent(core.Sequence):
    _fields = [
        ("pKIStatusInfo", PKIStatusInfo),
        ("errorCode", core.Integer, {"optional": True}),
        ("errorDetails", PKIFreeText, {"optional": True}),
    ]


class PKIBody(core.Choice):
    _alternatives = [
        ("ir", CertReqMessages, {"explicit": 0}),
        ("ip", CertRepMessage, {"explicit": 1}),
        ("cr", CertReqMessages, {"explicit": 2}),
        ("cp", CertRepMessage, {"explicit": 3}),
        ("p10cr", csr.CertificationRequest, {"explicit": 4}),
        ("popdecc", core.Any, {"explicit": 5}),
        ("popdecr", core.Any, {"explicit": 6}),
        ("kur", CertReqMessages, {"explicit": 7}),
        ("kup", CertRepMessage, {"explicit": 8}),
        ("krr", core.Any, {"explicit": 9}),
        ("krp", core.Any, {"explicit": 10}),
        ("rr", RevReqContent, {"explicit": 11}),
        ("rp", RevRepContent, {"explicit": 12}),
        ("ccr", core.Any, {"explicit": 13}),
        ("ccp", core.Any, {"explicit": 14}),
        ("ckuann", core.Any, {"explicit": 15}),
        ("cann", core.Any, {"explicit": 16}),
        ("rann", core.Any, {"explicit": 17}),
        ("crlann", core.Any, {"explicit": 18}),
        ("pkiconf", core.Null, {"explicit": 19}),
        ("nested", core.Any, {"explicit": 20}),
        ("genm", InfoTypeAndValues, {"explicit": 21}),
        ("genp", InfoTypeAndValues, {"explicit": 22}),
        ("error", ErrorMsgContent, {"explicit": 23}),
        ("certConf", CertConfirmContent, {"explicit": 24}),
        ("pollReq", core.Any, {"explicit": 25}),
        ("pollRep", core.Any, {"explicit": 26}),
    ]


class PKIHeader(core.Sequence):
    _fields = [
        ("pvno", core.Integer),
        ("sender", x509.GeneralName),
        ("recipient", x509.GeneralName),
        ("messageTime", core.GeneralizedTime, {"explicit": 0, "optional": True}),
        ("protectionAlg", algos.AlgorithmIdentifier, {"explicit": 1, "optional": True}),
        ("senderKID", core.OctetString, {"explicit": 2, "optional": True}),
        ("recipKID", core.OctetString, {"explicit": 3, "optional": True}),
        ("transactionID", core.OctetString, {"explicit": 4, "optional": True}),
        ("senderNonce", core.OctetString, {"explicit": 5, "optional": True}),
        ("recipNonce", core.OctetString, {"explicit": 6, "optional": True}),
        ("freeText", PKIFreeText, {"explicit": 7, "optional": True}),
        ("generalInfo", InfoTypeAndValues, {"explicit": 8, "optional": True}),
    ]


class PKIMessage(core.Sequence):
    _fields = [
        ("header", PKIHeader),
        ("body", PKIBody),
        ("protection", core.OctetBitString, {"explicit": 0, "optional": True}),
        ("extraCerts", Certificates, {"explicit": 1, "optional": True}),
    ]


class ProtectedPart(core.Sequence):
    _fields = [("header", PKIHeader), ("body", PKIBody)]


# --- protection parameters ------------------------------------------------------------------


class PBMParameter(core.Sequence):
    """RFC 4210 §5.1.3.1."""

    _fields = [
        ("salt", core.OctetString),
        ("owf", algos.DigestAlgorithm),
        ("iterationCount", core.Integer),
        ("mac", algos.HmacAlgorithm),
    ]


class RootCaKeyUpdateContent(core.Sequence):
    """RFC 9480 §2.14."""

    _fields = [
        ("newWithNew", x509.Certificate),
        ("newWithOld", x509.Certificate, {"explicit": 0, "optional": True}),
        ("oldWithNew", x509.Certificate, {"explicit": 1, "optional": True}),
    ]


class CertReqTemplateContent(core.Sequence):
    """RFC 9480 §2.19 / RFC 9483 §4.3.3."""

    _fields = [("certTemplate", CertTemplate), ("keySpec", Controls, {"optional": True})]


class CertProfileValue(core.SequenceOf):
    """id-it-certProfile (RFC 9480 §2.12)."""

    _child_spec = core.UTF8String


# OIDs (RFC 4210, RFC 9480, RFC 4211, RFC 8018)
PBM = "1.2.840.113533.7.66.13"
PBMAC1 = "1.2.840.113549.1.5.14"
PBKDF2 = "1.2.840.113549.1.5.12"
IT_IMPLICIT_CONFIRM = "1.3.6.1.5.5.7.4.13"
IT_CONFIRM_WAIT_TIME = "1.3.6.1.5.5.7.4.14"
IT_CA_CERTS = "1.3.6.1.5.5.7.4.17"
IT_ROOT_CA_KEY_UPDATE = "1.3.6.1.5.5.7.4.18"
IT_CERT_REQ_TEMPLATE = "1.3.6.1.5.5.7.4.19"
IT_ROOT_CA_CERT = "1.3.6.1.5.5.7.4.20"
IT_CERT_PROFILE = "1.3.6.1.5.5.7.4.21"
REG_CTRL_OLD_CERT_ID = "1.3.6.1.5.5.7.5.1.5"
