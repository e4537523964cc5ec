"""The few DER encodings we assemble ourselves: a signed structure from its to-be-signed
bytes, the algorithm identifier and a signature made outside `cryptography` (HSM, KMS).

X.509 certificates (RFC 5280 §4.1) and CRLs (§5.1) share one outer shape:
SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING signature }.
"""

from __future__ import annotations

from pki.crypto.keys import KeyAlgorithm

# AlgorithmIdentifier DER per signing algorithm, as RFC 4055 §5 / RFC 5758 §3.2 / RFC 8410 §3
# spell them: sha256WithRSAEncryption keeps its NULL parameters, ECDSA and Ed25519 omit them.
_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
_ECDSA_SHA384 = bytes.fromhex("300a06082a8648ce3d040303")
_ED25519 = bytes.fromhex("300506032b6570")

SIGNATURE_ALGORITHM: dict[KeyAlgorithm, bytes] = {
    KeyAlgorithm.RSA_2048: _SHA256_RSA,
    KeyAlgorithm.RSA_3072: _SHA256_RSA,
    KeyAlgorithm.RSA_4096: _SHA256_RSA,
    KeyAlgorithm.EC_P256: _ECDSA_SHA256,
    KeyAlgorithm.EC_P384: _ECDSA_SHA384,
    KeyAlgorithm.ED25519: _ED25519,
}


def length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + length(len(content)) + content


def signed(tbs: bytes, algorithm: KeyAlgorithm, signature: bytes) -> bytes:
    """SEQUENCE { tbs, signatureAlgorithm, BIT STRING (no unused bits) signature }."""
    return tlv(0x30, tbs + SIGNATURE_ALGORITHM[algorithm] + tlv(0x03, b"\x00" + signature))


def ecdsa_raw_to_der(raw: bytes) -> bytes:
    """PKCS#11 CKM_ECDSA returns r || s; X.509 wants Ecdsa-Sig-Value (RFC 3279 §2.2.3)."""
    half = len(raw) // 2
    r, s = (int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def integer(v: int) -> bytes:
        body = v.to_bytes(v.bit_length() // 8 + 1, "big")  # leading 0x00 keeps it positive
        return tlv(0x02, body)

    return tlv(0x30, integer(r) + integer(s))
