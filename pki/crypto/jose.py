"""JOSE for ACME (RFC 8555 §6.2): flattened JWS parsing, verification with a JWK (RFC 7515,
RFC 7518, RFC 8037), JWK thumbprints (RFC 7638) and HMAC checks for external account binding.

Small typed functions over `cryptography`; no JOSE library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

# The account-key algorithms we accept (RFC 8555 §6.2: servers MUST support ES256 and EdDSA
# SHOULD); MAC algorithms are for EAB only.
SIGNATURE_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "EdDSA")
MAC_ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
MIN_RSA_BITS = 2048

_CURVES: dict[str, tuple[ec.EllipticCurve, int, str]] = {
    "P-256": (ec.SECP256R1(), 32, "ES256"),
    "P-384": (ec.SECP384R1(), 48, "ES384"),
    "P-521": (ec.SECP521R1(), 66, "ES512"),
}
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "ES256": hashes.SHA256(),
    "ES384": hashes.SHA384(),
    "ES512": hashes.SHA512(),
    "RS256": hashes.SHA256(),
}


class JoseError(ValueError):
    """Not a JWS / JWK we accept; the message says why."""


class BadAlgorithm(JoseError):
    """The JWS names an algorithm we do not support or that does not fit its key."""


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text: object) -> bytes:
    """base64url without padding (RFC 7515 §2); anything else is an error."""
    if not isinstance(text, str) or "=" in text:
        raise JoseError("expected a base64url string without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise JoseError("invalid base64url") from None


@dataclass(frozen=True)
class Jws:
    protected: dict[str, Any]
    payload: bytes  # b"" for POST-as-GET (RFC 8555 §6.3)
    signature: bytes
    signing_input: bytes

    @property
    def alg(self) -> str:
        return str(self.protected.get("alg", ""))

    def payload_json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.payload)
        except (UnicodeDecodeError, ValueError):
            raise JoseError("the payload is not JSON") from None
        if not isinstance(value, dict):
            raise JoseError("the payload is not a JSON object")
        return value


def parse_flattened(body: bytes | dict[str, Any]) -> Jws:
    """A JWS in the flattened JSON serialization (RFC 7515 §7.2.2), the only one ACME uses."""
    if isinstance(body, dict):
        doc = body
    else:
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise JoseError("the body is not JSON") from None
    if not isinstance(doc, dict):
        raise JoseError("the body is not a JSON object")
    if "signatures" in doc or "header" in doc:
        raise JoseError("only the flattened JWS serialization without unprotected header")
    if set(doc) != {"protected", "payload", "signature"}:
        raise JoseError("a JWS needs exactly protected, payload and signature")
    protected_b64, payload_b64 = doc["protected"], doc["payload"]
    protected_raw = b64u_decode(protected_b64)
    try:
        protected = json.loads(protected_raw)
    except (UnicodeDecodeError, ValueError):
        raise JoseError("the protected header is not JSON") from None
    if not isinstance(protected, dict):
        raise JoseError("the protected header is not a JSON object")
    return Jws(
        protected=protected,
        payload=b64u_decode(payload_b64),
        signature=b64u_decode(doc["signature"]),
        signing_input=f"{protected_b64}.{payload_b64}".encode(),
    )


def _int(value: object, what: str) -> int:
    return int.from_bytes(b64u_decode(value), "big") if value else _missing(what)


def _missing(what: str) -> int:
    raise JoseError(f"the JWK lacks {what}")


def load_jwk(
    jwk: object,
) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey:
    """A public JWK (RFC 7517/7518/8037) as a key; private members are refused."""
    if not isinstance(jwk, dict):
        raise JoseError("the JWK is not a JSON object")
    if {"d", "p", "q", "dp", "dq", "qi"} & set(jwk):
        raise JoseError("the JWK holds private key material")
    kty = jwk.get("kty")
    try:
        if kty == "EC":
            curve = _CURVES.get(str(jwk.get("crv")))
            if curve is None:
                raise JoseError("EC keys must be on P-256, P-384 or P-521")
            x, y = b64u_decode(jwk.get("x")), b64u_decode(jwk.get("y"))
            if len(x) != curve[1] or len(y) != curve[1]:
                raise JoseError("EC coordinates have the wrong length")
            numbers = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve[0]
            )
            return numbers.public_key()
        if kty == "RSA":
            key = rsa.RSAPublicNumbers(_int(jwk.get("e"), "e"), _int(jwk.get("n"), "n"))
            public = key.public_key()
            if public.key_size < MIN_RSA_BITS:
                raise JoseError(f"RSA keys need at least {MIN_RSA_BITS} bits")
            return public
        if kty == "OKP":
            if jwk.get("crv") != "Ed25519":
                raise JoseError("OKP keys must be Ed25519")
            return ed25519.Ed25519PublicKey.from_public_bytes(b64u_decode(jwk.get("x")))
    except (ValueError, UnsupportedAlgorithm) as exc:
        if isinstance(exc, JoseError):
            raise
        raise JoseError(f"not a usable public key: {exc}") from None
    raise JoseError("the JWK's kty must be EC, RSA or OKP")


def check_algorithm(jwk: dict[str, Any], alg: str) -> None:
    """The JWS algorithm must be one we support and must fit the key (RFC 8555 §6.2)."""
    if alg not in SIGNATURE_ALGORITHMS:
        raise BadAlgorithm(f"algorithm {alg!r} is not supported")
    kty = jwk.get("kty")
    fits = (
        (kty == "EC" and _CURVES.get(str(jwk.get("crv")), (None, 0, ""))[2] == alg)
        or (kty == "RSA" and alg == "RS256")
        or (kty == "OKP" and alg == "EdDSA")
    )
    if not fits:
        raise BadAlgorithm(f"algorithm {alg} does not fit a {kty} {jwk.get('crv', '')} key")


def verify(jws: Jws, jwk: dict[str, Any]) -> bool:
    """True when the JWS's signature verifies with `jwk` under its (checked) algorithm."""
    check_algorithm(jwk, jws.alg)
    key = load_jwk(jwk)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            size = _CURVES[str(jwk["crv"])][1]
            if len(jws.signature) != 2 * size:  # RFC 7518 §3.4: R || S, fixed length
                return False
            r = int.from_bytes(jws.signature[:size], "big")
            s = int.from_bytes(jws.signature[size:], "big")
            key.verify(encode_dss_signature(r, s), jws.signing_input, ec.ECDSA(_HASHES[jws.alg]))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(jws.signature, jws.signing_input, padding.PKCS1v15(), _HASHES[jws.alg])
        else:
            key.verify(jws.signature, jws.signing_input)
    except InvalidSignature:
        return False
    return True


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace."""
    kty = jwk.get("kty")
    members = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}
    if kty not in members:
        raise JoseError("the JWK's kty must be EC, RSA or OKP")
    try:
        required = {name: jwk[name] for name in members[str(kty)]}
    except KeyError as missing:
        raise JoseError(f"the JWK lacks {missing}") from None
    if not all(isinstance(v, str) for v in required.values()):
        raise JoseError("JWK members must be strings")
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True)
    return b64u_encode(hashlib.sha256(canonical.encode()).digest())


def public_jwk(jwk: dict[str, Any]) -> dict[str, str]:
    """The JWK reduced to its public members (what we store)."""
    kty = jwk.get("kty")
    names = {"EC": ("kty", "crv", "x", "y"), "RSA": ("kty", "n", "e"), "OKP": ("kty", "crv", "x")}
    return {n: str(jwk[n]) for n in names.get(str(kty), ()) if n in jwk}


def spki_der(jwk: dict[str, Any]) -> bytes:
    """The JWK's SubjectPublicKeyInfo, to compare with a certificate's key (revokeCert)."""
    return load_jwk(jwk).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verify_mac(jws: Jws, key: bytes) -> bool:
    """An HMAC JWS (external account binding, RFC 8555 §7.3.4) under HS256/384/512."""
    digest = MAC_ALGORITHMS.get(jws.alg)
    if digest is None:
        raise BadAlgorithm(f"MAC algorithm {jws.alg!r} is not supported")
    expected = hmac.new(key, jws.signing_input, digest).digest()
    return hmac.compare_digest(expected, jws.signature)


# --- tls-alpn-01 (RFC 8737) -----------------------------------------------------------------

ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31"


def tls_alpn01_problem(cert_der: bytes, identifier: str, is_ip: bool, digest: bytes) -> str | None:
    """Why the validation certificate fails RFC 8737 §3, or None when it holds: exactly the
    identifier in subjectAltName, and a critical acmeIdentifier holding SHA-256(keyAuth)."""
    from cryptography import x509  # local: the rest of this module needs no X.509

    try:
        cert = x509.load_der_x509_certificate(cert_der)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(ACME_IDENTIFIER_OID))
    except x509.ExtensionNotFound as missing:
        return f"the certificate lacks {missing.oid.dotted_string}"
    except ValueError as exc:
        return f"unreadable certificate: {exc}"
    names = [str(n.value) for n in sans]
    wanted = identifier
    if names != [wanted] or (is_ip != bool(sans.get_values_for_type(x509.IPAddress))):
        return f"the certificate names {names}, not exactly {wanted}"
    if not ext.critical:
        return "the acmeIdentifier extension is not critical"
    value = ext.value.value if isinstance(ext.value, x509.UnrecognizedExtension) else b""
    # extnValue holds a DER OCTET STRING of the 32-byte digest (§3).
    if value != b"\x04\x20" + digest:
        return "the acmeIdentifier does not hold the key authorization's SHA-256"
    return None
