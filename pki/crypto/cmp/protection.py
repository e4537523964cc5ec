"""PKIMessage protection (RFC 4210 §5.1.3, RFC 9481 §6): the MAC or signature over
DER(ProtectedPart) = SEQUENCE { header, body }.

MACs: PasswordBasedMac (RFC 4210 §5.1.3.1, what `openssl cmp -mac hmacWithSHA256` sends) and
PBMAC1 (RFC 9481 §6.1.2: PBKDF2 + HMAC). Signatures: ECDSA P-256/P-384, RSA PKCS#1 v1.5 and
PSS, Ed25519 (RFC 9481 §3)."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from asn1crypto import algos, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from pki.crypto.cmp import asn1

MAX_ITERATIONS = 100_000  # a peer must not make us hash for minutes (RFC 9481 §6.1.1)
MIN_SALT = 8
_HASHES = {"sha224", "sha256", "sha384", "sha512"}  # SHA-1 refused (RFC 9481 §2)
_HMAC_OIDS = {  # hmacWithSHA* (RFC 4231 / RFC 8018)
    "sha256": "1.2.840.113549.2.9",
    "sha384": "1.2.840.113549.2.10",
    "sha512": "1.2.840.113549.2.11",
}


class ProtectionError(ValueError):
    """The protection cannot be checked: unknown or unacceptable algorithm (badAlg)."""


@dataclass(frozen=True)
class MacSpec:
    """How a MAC-protected request was protected, to answer in kind (RFC 9483 §3.2)."""

    algorithm: str  # "pbm" | "pbmac1"
    hash_name: str
    iterations: int


def protected_part(header: asn1.PKIHeader, body: asn1.PKIBody) -> bytes:
    # dump() of a parsed value is its received encoding: the MAC covers exactly those bytes.
    return b"\x30" + _length(len(header.dump()) + len(body.dump())) + header.dump() + body.dump()


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def is_mac(algorithm: algos.AlgorithmIdentifier) -> bool:
    return algorithm["algorithm"].dotted in (asn1.PBM, asn1.PBMAC1)


def mac_spec(algorithm: algos.AlgorithmIdentifier) -> MacSpec:
    oid = algorithm["algorithm"].dotted
    try:
        if oid == asn1.PBM:
            params = asn1.PBMParameter.load(algorithm["parameters"].dump())
            owf = params["owf"]["algorithm"].native
            mac = params["mac"]["algorithm"].native
            if owf not in _HASHES or mac not in _HASHES:
                raise ProtectionError(f"PBM with owf {owf} and MAC {mac} is not supported")
            return MacSpec("pbm", mac, params["iterationCount"].native)
        if oid == asn1.PBMAC1:
            params = algos.Pbmac1Params.load(algorithm["parameters"].dump())
            kdf = params["key_derivation_func"]
            if kdf["algorithm"].dotted != asn1.PBKDF2:
                raise ProtectionError("PBMAC1 needs PBKDF2 (RFC 9481 §6.1.2)")
            mac = params["message_auth_scheme"]["algorithm"].native
            if mac not in _HASHES:
                raise ProtectionError(f"PBMAC1 with MAC {mac} is not supported")
            return MacSpec("pbmac1", mac, kdf["parameters"]["iteration_count"].native)
    except (ValueError, TypeError, KeyError) as exc:
        raise ProtectionError(f"unreadable MAC parameters: {exc}") from None
    raise ProtectionError(f"protection algorithm {oid} is not a MAC we know")


def _check_cost(iterations: int, salt: bytes) -> None:
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ProtectionError(f"iteration count {iterations} outside 1..{MAX_ITERATIONS}")
    if len(salt) < MIN_SALT:
        raise ProtectionError(f"a salt of {len(salt)} bytes is too short")


def compute_mac(algorithm: algos.AlgorithmIdentifier, secret: bytes, data: bytes) -> bytes:
    spec = mac_spec(algorithm)
    params_der = algorithm["parameters"].dump()
    if spec.algorithm == "pbm":
        params = asn1.PBMParameter.load(params_der)
        salt = params["salt"].native
        _check_cost(spec.iterations, salt)
        owf = params["owf"]["algorithm"].native
        # RFC 4210 §5.1.3.1: BASEKEY = OWF(secret || salt), then OWF again, iterationCount
        # applications in all.
        key = hashlib.new(owf, secret + salt).digest()
        for _ in range(spec.iterations - 1):
            key = hashlib.new(owf, key).digest()
    else:
        pbmac = algos.Pbmac1Params.load(params_der)
        kdf = pbmac["key_derivation_func"]["parameters"]
        salt = kdf["salt"].native
        if not isinstance(salt, bytes):
            raise ProtectionError("PBKDF2 salt must be specified (an OCTET STRING)")
        _check_cost(spec.iterations, salt)
        prf_hash = kdf["prf"]["algorithm"].native  # "sha256" for hmacWithSHA256
        if prf_hash not in _HASHES:
            raise ProtectionError(f"PBKDF2 PRF {prf_hash} is not supported")
        length = kdf["key_length"].native or hashlib.new(spec.hash_name).digest_size
        if not 16 <= length <= 64:
            raise ProtectionError(f"a PBKDF2 key of {length} bytes is not acceptable")
        key = PBKDF2HMAC(_hash(prf_hash), length, salt, spec.iterations).derive(secret)
    return hmac.new(key, data, spec.hash_name).digest()


def mac_valid(algorithm: algos.AlgorithmIdentifier, secret: bytes, data: bytes, mac: bytes) -> bool:
    return hmac.compare_digest(compute_mac(algorithm, secret, data), mac)


def pbm_algorithm(
    hash_name: str = "sha256", iterations: int = 500, salt: bytes | None = None
) -> algos.AlgorithmIdentifier:
    """PasswordBasedMac parameters with a fresh salt, owf and HMAC of `hash_name`."""
    params = asn1.PBMParameter(
        {
            "salt": salt or os.urandom(16),
            "owf": {"algorithm": hash_name},
            "iterationCount": iterations,
            "mac": {"algorithm": _HMAC_OIDS[hash_name]},
        }
    )
    return algos.AlgorithmIdentifier({"algorithm": asn1.PBM, "parameters": core.Any(params)})


def pbmac1_algorithm(
    hash_name: str = "sha256", iterations: int = 10_000, salt: bytes | None = None
) -> algos.AlgorithmIdentifier:
    """PBMAC1 with PBKDF2-HMAC-`hash_name` and HMAC-`hash_name` (RFC 9481 §6.1.2)."""
    size = hashlib.new(hash_name).digest_size
    params = algos.Pbmac1Params(
        {
            "key_derivation_func": {
                "algorithm": "pbkdf2",
                "parameters": {
                    "salt": algos.Pbkdf2Salt(name="specified", value=salt or os.urandom(16)),
                    "iteration_count": iterations,
                    "key_length": size,
                    "prf": {"algorithm": hash_name},
                },
            },
            "message_auth_scheme": {"algorithm": _HMAC_OIDS[hash_name]},
        }
    )
    return algos.AlgorithmIdentifier({"algorithm": asn1.PBMAC1, "parameters": core.Any(params)})


def answer_mac_algorithm(spec: MacSpec) -> algos.AlgorithmIdentifier:
    """The MAC a response to a request protected per `spec` uses: the same kind and hash,
    a fresh salt (RFC 9483 §3.2)."""
    hash_name = spec.hash_name if spec.hash_name in _HMAC_OIDS else "sha256"
    iterations = min(max(spec.iterations, 1), MAX_ITERATIONS)
    if spec.algorithm == "pbmac1":
        return pbmac1_algorithm(hash_name, iterations)
    return pbm_algorithm(hash_name, iterations)


def _hash(name: str | None) -> hashes.HashAlgorithm:
    table: dict[str, hashes.HashAlgorithm] = {
        "sha224": hashes.SHA224(),
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }
    if name not in table:
        raise ProtectionError(f"hash {name} is not supported")
    return table[name]


def signature_valid(
    algorithm: algos.AlgorithmIdentifier | algos.SignedDigestAlgorithm,
    public_key: object,
    signature: bytes,
    data: bytes,
) -> bool:
    """Whether `signature` over `data` verifies with `public_key` under `algorithm`;
    ProtectionError when the algorithm is not one we accept (badAlg)."""
    try:
        sda = algos.SignedDigestAlgorithm.load(algorithm.dump())
        kind = sda.signature_algo
        digest = None if kind == "ed25519" else _hash(sda.hash_algo)
    except (ValueError, KeyError) as exc:
        raise ProtectionError(f"unsupported signature algorithm: {exc}") from None
    try:
        if kind == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            assert digest is not None
            public_key.verify(signature, data, ec.ECDSA(digest))
        elif kind == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
            assert digest is not None
            public_key.verify(signature, data, padding.PKCS1v15(), digest)
        elif kind == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
            assert digest is not None
            salt = sda["parameters"]["salt_length"].native
            mgf = padding.MGF1(
                _hash(sda["parameters"]["mask_gen_algorithm"]["parameters"]["algorithm"].native)
            )
            public_key.verify(signature, data, padding.PSS(mgf, salt), digest)
        elif kind == "ed25519" and isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            raise ProtectionError(f"signature algorithm {kind} does not fit the signer's key")
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def certificate_signature_valid(
    algorithm: algos.AlgorithmIdentifier, cert_der: bytes, signature: bytes, data: bytes
) -> bool:
    try:
        public_key = x509.load_der_x509_certificate(cert_der).public_key()
    except ValueError as exc:
        raise ProtectionError(f"unreadable signer certificate: {exc}") from None
    return signature_valid(algorithm, public_key, signature, data)
