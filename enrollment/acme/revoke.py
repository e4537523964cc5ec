"""revokeCert (RFC 8555 §7.6): by the account the certificate was issued to, by an account
holding valid authorizations for every name in it, or by a JWS signed with the certificate's
own key."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from enrollment.acme.auth import Signed
from enrollment.acme.models import AcmeAccount, AcmeAuthorization, Status
from enrollment.acme.problems import AcmeProblem, malformed, unauthorized
from pki.crypto import certs, jose
from pki.models import Domain, IssuedCertificate, Reason
from pki.services import revocation

# CRLReason codes (RFC 5280 §5.3.1) a subscriber may give; 7 is unused, and holds and
# CA-side reasons are the CA's business, not a subscriber's.
_REASONS = {
    0: Reason.UNSPECIFIED,
    1: Reason.KEY_COMPROMISE,
    3: Reason.AFFILIATION_CHANGED,
    4: Reason.SUPERSEDED,
    5: Reason.CESSATION_OF_OPERATION,
}


def revoke_cert(domain: Domain, signed: Signed, payload: dict[str, Any]) -> IssuedCertificate:
    try:
        der = jose.b64u_decode(payload.get("certificate"))
        info = certs.info(der)
    except (jose.JoseError, ValueError) as exc:
        raise malformed(f"certificate: {exc}") from None
    code = payload.get("reason", 0)
    if not isinstance(code, int) or isinstance(code, bool) or code not in _REASONS:
        raise AcmeProblem(
            "badRevocationReason",
            f"reason {code!r} is not allowed",
            extra={"allowed": sorted(_REASONS)},
        )
    cert = (
        IssuedCertificate.objects.filter(domain=domain, serial=info.serial_hex)
        .select_related("ca")
        .first()
    )
    if cert is None or bytes(cert.der) != der:
        raise AcmeProblem("malformed", "this server did not issue that certificate", 404)
    if signed.account is not None:
        account = signed.account
        if cert.requester != account.requester and not _holds_authorizations(account, info):
            raise unauthorized(
                "the certificate was not issued to this account, and the account holds no "
                "valid authorizations for all its names"
            )
        requester = account.requester
    else:
        try:
            spki = jose.spki_der(signed.jwk)
        except jose.JoseError as exc:
            raise AcmeProblem("badPublicKey", str(exc)) from None
        if not certs.public_key_matches(der, spki):
            raise unauthorized("the JWS key is not the certificate's key")
        requester = "acme:certificate-key"
    if cert.status == IssuedCertificate.Status.REVOKED:
        raise AcmeProblem("alreadyRevoked", "the certificate is already revoked")
    try:
        revocation.revoke(cert, _REASONS[code].value, requester=requester)
    except ValidationError as exc:
        raise malformed("; ".join(exc.messages)) from None
    return cert


def _holds_authorizations(account: AcmeAccount, info: certs.CertInfo) -> bool:
    names = {("dns", n.lower()) for n in info.dns_names} | {("ip", i) for i in info.ip_addresses}
    if not names:
        return False
    held = set(
        AcmeAuthorization.objects.filter(
            order__account=account, status=Status.VALID, expires__gt=timezone.now()
        ).values_list("identifier_type", "identifier_value")
    )
    return names <= held
