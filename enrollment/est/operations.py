"""What each EST operation does once the caller is known: read the CSR, check it against the
operation's rules, issue through pki.services.issuance.issue() (the one issuance path, which
checks the bound profile and audits either way) and remember which device got what."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.services import record
from config.errors import Forbidden, reason_of
from enrollment import onboarding, services
from enrollment.est.auth import Caller
from enrollment.models import DeviceCertificate
from pki.crypto import est
from pki.crypto.csr import CsrError, CsrInfo, inspect
from pki.models import CertificateAuthority, Domain, ProfileVersion, Protocol
from pki.services import cas, profiles
from pki.services.issuance import IssueRequest, issue

MAX_BODY = 64 * 1024
SIMPLEENROLL, SIMPLEREENROLL, SERVERKEYGEN = "simpleenroll", "simplereenroll", "serverkeygen"


class Malformed(Exception):
    """400 with the reason."""


class Disabled(Exception):
    """EST is off for the domain, or not set up to answer (403 with the reason)."""


@dataclass(frozen=True)
class Enrolled:
    certificate_der: bytes
    chain_der: list[bytes]  # issuing CA first, without the root
    private_key_pkcs8: bytes | None = None  # serverkeygen only
    created: bool = True


def read_csr(body: bytes) -> CsrInfo:
    """The base64 DER PKCS#10 of an EST body (RFC 7030 §4.2.1, RFC 8951 §3: base64 with or
    without line breaks; the Content-Transfer-Encoding header is not needed to know it)."""
    if not body.strip():
        raise Malformed("the body is empty: it must be a base64 PKCS#10 request")
    if len(body) > MAX_BODY:
        raise Malformed(f"the body is larger than {MAX_BODY} bytes")
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise Malformed("the body is not base64 (RFC 8951)") from None
    try:
        csr = inspect(der)
    except CsrError as exc:
        raise Malformed(f"the body is not a PKCS#10 request: {exc}") from None
    if not csr.signature_valid:
        raise Malformed("the CSR's signature does not verify (RFC 2986 §3: proof of possession)")
    return csr


def check_enabled(domain: Domain, operation: str) -> None:
    if not domain.protocol_enabled(Protocol.EST) or not services.est_config(domain).enabled:
        raise Disabled(f"EST is disabled in domain {domain.slug}")
    if not onboarding.operation_allowed(domain, Protocol.EST, operation):
        raise Disabled(f"EST {operation} is not allowed in domain {domain.slug}")


def profile_version(domain: Domain, operation: str) -> ProfileVersion:
    name = services.est_config(domain).profile_for(operation)
    version = profiles.current_by_name(domain, name)
    if version is None:
        raise Disabled(
            f"EST in domain {domain.slug} is bound to profile {name!r}, which is missing"
        )
    return version


def ca_chain(domain: Domain) -> list[bytes]:
    """The chain of the CA that signs simpleenroll's profile, issuing CA first, up to and
    including the root (RFC 7030 §4.1.3: what a client needs as its explicit trust anchor)."""
    version = profile_version(domain, SIMPLEENROLL)
    ca: CertificateAuthority = cas.active(version.ca)
    return cas.chain(ca)


def required_attributes(domain: Domain) -> bytes | None:
    """The CsrAttrs of simpleenroll's profile (RFC 7030 §4.5.2), or None when it requires
    nothing (answered 204)."""
    spec = profiles.ProfileSpec.parse(profile_version(domain, SIMPLEENROLL).spec)
    oids = [est.subject_attribute_oid(name) for name in spec.subject_required]
    extensions = [est.SUBJECT_ALT_NAME] if spec.require_san else []
    if not oids and not extensions:
        return None
    return est.csr_attributes(oids, extensions)


def refuse(domain: Domain, caller: Caller, operation: str, reason: str) -> None:
    with transaction.atomic():
        record(
            "est.refused",
            domain=domain,
            object_type="est",
            details={"operation": operation, "requester": caller.requester, "reason": reason},
        )


def enroll(domain: Domain, caller: Caller, operation: str, csr: CsrInfo) -> Enrolled:
    """Issue for `csr`. Raises what issue() raises (ProfileDenied and Forbidden → 403,
    IssuanceUnavailable → 503, Conflict → 409) and Forbidden for a re-enrollment that
    changes its identity."""
    profile = services.est_config(domain).profile_for(operation)
    if operation == SIMPLEREENROLL:
        # RFC 7030 §4.2.2: the request keeps the subject and subjectAltName of the
        # certificate being renewed (the one the client authenticated with).
        if caller.certificate is None:
            raise Forbidden("re-enrollment must be authenticated by the certificate it renews")
        changes = est.identity_changes(caller.certificate.der, csr.der)
        if changes:
            reason = "; ".join(changes)
            refuse(domain, caller, operation, reason)
            raise Forbidden(reason, code="identity_changed", reasons=changes)
    private_key = None
    to_sign: bytes | CsrInfo = csr
    key: str | None = None
    if operation == SERVERKEYGEN:
        made = est.server_key_and_csr(csr.der)
        private_key, to_sign = made.private_key_pkcs8, made.csr_der
        # No idempotency key: a retry gets a new key, so it must get a new certificate.
    else:
        digest = hashlib.sha256(csr.der).hexdigest()
        key = f"est:{operation}:{caller.key_part}:{digest}"
    try:
        issued = issue(
            IssueRequest(
                domain=domain,
                profile=profile,
                csr=to_sign,
                protocol=Protocol.EST.value,
                requester=caller.requester,
                idempotency_key=key,
                extra={"est_operation": operation},
            )
        )
    except ValidationError as exc:  # the CSR was read already: the bound profile is missing
        raise Disabled(f"EST in domain {domain.slug}: {reason_of(exc)}") from None
    link = {
        "domain": domain,
        "device": caller.device,
        "credential": caller.owner,
        "operation": operation,
    }
    if issued.created:
        try:
            with transaction.atomic():
                DeviceCertificate.objects.create(certificate=issued.certificate, **link)
        except IntegrityError:
            pass  # a concurrent retry of the same request linked it first
    else:  # a replay: linked already, unless the first answer died in between
        DeviceCertificate.objects.get_or_create(certificate=issued.certificate, defaults=link)
    return Enrolled(bytes(issued.certificate.der), issued.chain, private_key, issued.created)
