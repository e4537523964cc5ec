"""A small ACME client for tests (RFC 8555 over Django's test client): builds and signs
flattened JWS with ES256 / ES384 / RS256 / EdDSA keys, and can craft bad ones on purpose."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from django.test import Client

JOSE = "application/jose+json"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Key:
    alg: str
    private: Any

    @classmethod
    def make(cls, alg: str = "ES256") -> Key:
        if alg == "ES256":
            return cls(alg, ec.generate_private_key(ec.SECP256R1()))
        if alg == "ES384":
            return cls(alg, ec.generate_private_key(ec.SECP384R1()))
        if alg == "RS256":
            return cls(alg, rsa.generate_private_key(65537, 2048))
        if alg == "EdDSA":
            return cls(alg, ed25519.Ed25519PrivateKey.generate())
        raise ValueError(alg)

    def jwk(self) -> dict[str, str]:
        public = self.private.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            size = (public.curve.key_size + 7) // 8
            numbers = public.public_numbers()
            crv = {256: "P-256", 384: "P-384"}[public.curve.key_size]
            return {
                "kty": "EC",
                "crv": crv,
                "x": b64u(numbers.x.to_bytes(size, "big")),
                "y": b64u(numbers.y.to_bytes(size, "big")),
            }
        if isinstance(public, rsa.RSAPublicKey):
            n = public.public_numbers()
            return {
                "kty": "RSA",
                "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                "e": b64u(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big")),
            }
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}

    def thumbprint(self) -> str:
        jwk = self.jwk()
        required = {k: jwk[k] for k in sorted(jwk)}
        canonical = json.dumps(required, separators=(",", ":"))
        return b64u(hashlib.sha256(canonical.encode()).digest())

    def sign(self, data: bytes) -> bytes:
        if self.alg in ("ES256", "ES384"):
            digest = hashes.SHA256() if self.alg == "ES256" else hashes.SHA384()
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(digest)))
            size = 32 if self.alg == "ES256" else 48
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        if self.alg == "RS256":
            return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.private.sign(data)


def jws(
    key: Key,
    url: str,
    payload: Any,
    nonce: str,
    *,
    kid: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, str]:
    protected: dict[str, Any] = {"alg": key.alg, "nonce": nonce, "url": url}
    if kid:
        protected["kid"] = kid
    else:
        protected["jwk"] = key.jwk()
    protected.update(extra or {})
    protected_b64 = b64u(json.dumps(protected).encode())
    payload_b64 = "" if payload is None else b64u(json.dumps(payload).encode())
    signature = key.sign(f"{protected_b64}.{payload_b64}".encode())
    return {"protected": protected_b64, "payload": payload_b64, "signature": b64u(signature)}


def csr_der(names: list[str], key: Any = None, cn: str | None = None) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(subject))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@dataclass
class AcmeClient:
    """Drives /acme/<domain>/ through Django's test client."""

    http: Client
    domain: str
    key: Key = field(default_factory=Key.make)
    kid: str | None = None

    @property
    def base(self) -> str:
        return f"http://testserver/acme/{self.domain}"

    def directory(self) -> dict[str, Any]:
        return self.http.get(f"/acme/{self.domain}/directory").json()

    def nonce(self) -> str:
        return self.http.head(f"/acme/{self.domain}/new-nonce")["Replay-Nonce"]

    def post(
        self,
        url: str,
        payload: Any,
        *,
        key: Key | None = None,
        use_jwk: bool = False,
        nonce: str | None = None,
        signed_url: str | None = None,
        body: dict[str, str] | None = None,
        content_type: str = JOSE,
    ) -> Any:
        key = key or self.key
        if body is None:
            body = jws(
                key,
                signed_url or url,
                payload,
                nonce or self.nonce(),
                kid=None if use_jwk else self.kid,
            )
        path = url.removeprefix("http://testserver")
        return self.http.post(path, json.dumps(body), content_type=content_type)

    def register(self, **payload: Any) -> Any:
        payload = {"termsOfServiceAgreed": True, **payload}
        response = self.post(f"{self.base}/new-account", payload, use_jwk=True)
        if response.status_code in (200, 201):
            self.kid = response["Location"]
        return response

    def new_order(self, *names: str, **extra: Any) -> Any:
        payload = {"identifiers": [{"type": "dns", "value": n} for n in names], **extra}
        return self.post(f"{self.base}/new-order", payload)

    def get(self, url: str) -> Any:
        return self.post(url, None)
