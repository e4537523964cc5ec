"""The few DER encodings we assemble ourselves: a signed structure from its to-be-signed
bytes, the algorithm identifier and a signature made outside `cryptography` (HSM, KMS).

X.509 certificates (RFC 5280 §4.1) and CRLs (§5.1) share one outer shape:
SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING signature }.
"""

from __future__ import annotations

from datetime import UTC, datetime

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


def integer(v: int) -> bytes:
    """A non-negative INTEGER, minimal two's complement (a leading 0x00 keeps it positive)."""
    return tlv(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))


def generalized_time(when: datetime) -> bytes:
    """GeneralizedTime, seconds, 'Z' (RFC 5280 §4.1.2.5.2)."""
    return tlv(0x18, _utc(when).strftime("%Y%m%d%H%M%SZ").encode())


def x509_time(when: datetime) -> bytes:
    """X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)."""
    utc = _utc(when)
    if 1950 <= utc.year < 2050:
        return tlv(0x17, utc.strftime("%y%m%d%H%M%SZ").encode())
    return generalized_time(utc)


def _utc(when: datetime) -> datetime:
    # A naive datetime is taken as UTC, as Django stores them with USE_TZ.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def header(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the TLV at `offset` (definite lengths,
    one-octet tags: all DER we read back is ours or cryptography's)."""
    tag, first = data[offset], data[offset + 1]
    if first < 0x80:
        return tag, offset + 2, offset + 2 + first
    count = first & 0x7F
    start = offset + 2 + count
    return tag, start, start + int.from_bytes(data[offset + 2 : start], "big")


def signed(tbs: bytes, algorithm: KeyAlgorithm, signature: bytes) -> bytes:
    """SEQUENCE { tbs, signatureAlgorithm, BIT STRING (no unused bits) signature }."""
    algorithm_id, bits = SIGNATURE_ALGORITHM[algorithm], tlv(0x03, b"\x00" + signature)
    # One copy of `tbs`, which is 50 MB for a CRL of a million entries.
    return b"".join(
        [b"\x30", length(len(tbs) + len(algorithm_id) + len(bits)), tbs, algorithm_id, bits]
    )


def ecdsa_raw_to_der(raw: bytes) -> bytes:
    """PKCS#11 CKM_ECDSA returns r || s; X.509 wants Ecdsa-Sig-Value (RFC 3279 §2.2.3)."""
    half = len(raw) // 2
    r, s = (int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
    return tlv(0x30, integer(r) + integer(s))
