"""What an imported CA brings (seed 004: PKCS#12, or key + certificate + chain) and the
checks it passes before a ceremony may start and again when the ceremony runs."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from pki.crypto import certs, pkcs
from pki.crypto.keys import KeyBackendError, public_der_of_private
from pki.crypto.sealing import unseal
from pki.models import CertificateAuthority
from pki.services.ceremony_rules import SECRET_PURPOSE


def material(secret: dict[str, Any]) -> pkcs.KeyAndCertificates:
    """{"pkcs12": base64, "password"} or {"private_key", "certificate", "chain" (PEM),
    "password"} → key and certificates; anything unreadable is a ValidationError."""
    try:
        if secret.get("pkcs12"):
            try:
                data = base64.b64decode(secret["pkcs12"], validate=True)
            except (binascii.Error, ValueError):
                raise ValidationError("pkcs12 must be base64") from None
            return pkcs.read_pkcs12(data, secret.get("password"))
        blocks = pkcs.split_pem(secret.get("certificate", "") + "\n" + secret.get("chain", ""))
        certificates = [b.der for b in blocks if b.label == "CERTIFICATE"]
        if not certificates:
            raise ValidationError("no certificate given")
        key = pkcs.read_private_key(secret.get("private_key", "").encode(), secret.get("password"))
        return pkcs.KeyAndCertificates(key, certificates[0], certificates[1:])
    except (pkcs.ContainerError, KeyBackendError) as exc:
        raise ValidationError(str(exc)) from None


def unsealed(sealed: bytes) -> pkcs.KeyAndCertificates:
    """The material a ceremony sealed at its start."""
    return material(json.loads(unseal(sealed, SECRET_PURPOSE)))


def check(
    found: pkcs.KeyAndCertificates, parent: CertificateAuthority | None
) -> pkcs.KeyAndCertificates:
    """The key belongs to the certificate, the certificate is a CA, and the chain holds:
    every link's signature verifies, ending at a self-signed root or at `parent`."""
    try:
        info = certs.info(found.certificate_der)
        key_matches = public_der_of_private(found.private_key_pkcs8) == info.public_key_der
    except (certs.CertificateError, KeyBackendError) as exc:
        raise ValidationError(str(exc)) from None
    if not info.is_ca:
        raise ValidationError("the certificate is not a CA certificate (basicConstraints cA)")
    if not key_matches:
        raise ValidationError("the private key does not belong to the certificate")
    if info.not_after <= timezone.now():
        raise ValidationError("the CA certificate has expired")
    current = found.certificate_der
    rest = [bytes(parent.certificate)] if parent is not None else list(found.chain_der)
    for _ in range(10):
        if certs.info(current).self_signed:
            return found
        issuer = next((c for c in rest if certs.signed_by(current, c)), None)
        if issuer is None:
            raise ValidationError(
                "the chain is incomplete: no certificate given signed "
                f"{certs.info(current).subject_text}"
            )
        if parent is not None and issuer == bytes(parent.certificate):
            return found
        current = issuer
    raise ValidationError("the chain is too long")
