"""Certificates whose key the server makes (console "new key", PKCS#12 and browser onboarding),
handed out once as a password-protected PKCS#12 (RFC 7292). The key lives only in the
caller's memory and is never stored; the certificate goes through issue() like any other."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from pki.crypto import pkcs
from pki.crypto.csr import CsrError, new_key_and_csr
from pki.crypto.keys import KeyAlgorithm
from pki.models import Domain, IssuedCertificate, Protocol
from pki.services import cas
from pki.services.issuance import Issued, IssueRequest, issue

MIN_PASSWORD = 12
MAX_PASSWORD = 200


def check_password(password: str, again: str | None = None) -> None:
    """The PKCS#12 password rules; `again` is the confirmation where a person typed it."""
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"the PKCS#12 password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ValidationError(f"the PKCS#12 password has at most {MAX_PASSWORD} characters")
    if again is not None and again != password:
        raise ValidationError("the two passwords differ")


@dataclass(frozen=True)
class ServerKeyRequest:
    domain: Domain
    profile: str
    common_name: str
    algorithm: KeyAlgorithm = KeyAlgorithm.EC_P256
    dns_names: list[str] = field(default_factory=list)
    ip_addresses: list[str] = field(default_factory=list)
    protocol: str = Protocol.API.value
    user: User | None = None
    requester: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerKeyCertificate:
    issued: Issued
    private_key_pkcs8: bytes

    @property
    def certificate(self) -> IssuedCertificate:
        return self.issued.certificate

    def pkcs12(self, name: str, password: str, *, with_root: bool = False) -> bytes:
        """Key, certificate and chain (issuing CA first; the root too with `with_root`, for a
        device that needs its trust anchor) under `password`."""
        ca = self.certificate.ca
        chain = cas.chain(ca) if with_root else cas.issuing_chain(ca)
        return pkcs.write_pkcs12(
            name, self.private_key_pkcs8, bytes(self.certificate.der), chain, password
        )


def issue_with_server_key(request: ServerKeyRequest) -> ServerKeyCertificate:
    """A fresh key and its certificate. Raises ValidationError for names a CSR cannot carry,
    and whatever issue() raises (Forbidden / ProfileDenied, ValidationError, Unavailable)."""
    try:
        made = new_key_and_csr(
            request.algorithm, request.common_name, request.dns_names, request.ip_addresses
        )
    except CsrError as exc:
        raise ValidationError(str(exc)) from None
    issued = issue(
        IssueRequest(
            domain=request.domain,
            profile=request.profile,
            csr=made.csr_der,
            protocol=request.protocol,
            user=request.user,
            requester=request.requester,
            extra={"key": "server-generated", **request.extra},
        )
    )
    return ServerKeyCertificate(issued, made.private_key_pkcs8)
