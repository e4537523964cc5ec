"""The one issuance path (seed 002, F4). Every front end (REST, RA approvals, EST, CMP,
ACME, management commands) builds an IssueRequest and calls issue(); nothing else signs
an end-entity certificate.

    claim the idempotency key ─ check who asks ─ inspect the CSR ─ enforce the profile
    (audited either way) ─ sign through the CA's driver ─ store certificate + audit events
    + `ca.issue` outbox row in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.roles import Perm, has_perm
from audit.services import record
from config.errors import Conflict, Forbidden
from pki.crypto import certs
from pki.crypto.csr import CsrError, CsrInfo, inspect
from pki.models import (
    CertificateAuthority,
    Domain,
    IdempotencyKey,
    IssuedCertificate,
    Profile,
    ProfileVersion,
)
from pki.services import cas, profiles
from pki.services.ca_driver import sign

BACKDATE = timedelta(minutes=1)  # tolerate relying parties whose clocks run a little slow


class ProfileDenied(Forbidden):
    """The profile refuses the request: 403 with every reason (DESIGN.md)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons), code="profile_denied", reasons=reasons)


class IssuanceUnavailable(Exception):
    """The domain cannot issue right now (no active CA): a 503 with the reason."""


@dataclass
class IssueRequest:
    domain: Domain
    profile: str
    csr: bytes | str
    protocol: str
    # A person (API, RA console, command) is checked for certs.issue; a device or ACME account
    # has been authenticated by its front end, which names it in `requester`.
    user: User | None = None
    requester: str = ""
    idempotency_key: str | None = None
    validity_days: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def fingerprint(self, csr: CsrInfo) -> str:
        facts = {
            "profile": self.profile,
            "csr": csr.fingerprint,
            "requester": self.who,
            "validity_days": self.validity_days,
        }
        return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()

    @property
    def who(self) -> str:
        if self.user is not None:
            return f"user:{self.user.get_username()}"
        return self.requester


@dataclass(frozen=True)
class Issued:
    certificate: IssuedCertificate
    chain: list[bytes]  # DER, issuing CA first, without the root
    created: bool


def issue(request: IssueRequest) -> Issued:
    _authorize(request)
    try:
        csr = inspect(request.csr)
    except CsrError as exc:
        raise ValidationError(f"csr: {exc}") from None
    version = _profile_version(request.domain, request.profile)
    spec = profiles.ProfileSpec.parse(version.spec)
    fingerprint = request.fingerprint(csr)
    try:
        with transaction.atomic():
            # The claim is the transaction's first write: an identical request running at the
            # same time blocks on the key's unique index until we commit (then its insert
            # fails and it answers with our certificate) or roll back (then it goes on).
            claim = _claim(request, fingerprint)
            verdict = profiles.evaluate(
                spec, csr, protocol=request.protocol, validity_days=request.validity_days
            )
            if not verdict.allowed:
                raise _Refused(verdict)
            return _issue(request, version, spec, csr, claim)
    except _Refused as refused:
        # Recorded in its own transaction: the denial must outlive the refusal.
        with transaction.atomic():
            _record_evaluation(request, version, csr, refused.verdict)
        raise ProfileDenied(refused.verdict.reasons) from None
    except IntegrityError:
        found = _replay(request, fingerprint) if request.idempotency_key else None
        if found is None:
            raise
        return found


class _Refused(Exception):
    def __init__(self, verdict: profiles.Verdict) -> None:
        self.verdict = verdict


def _authorize(request: IssueRequest) -> None:
    if request.user is not None and not has_perm(request.user, Perm.CERTS_ISSUE, request.domain):
        raise Forbidden(f"you do not hold {Perm.CERTS_ISSUE.value} in domain {request.domain.slug}")
    if request.user is None and not request.requester:
        raise Forbidden("an issuance needs an authenticated requester")
    if not request.domain.protocol_enabled(request.protocol):
        raise Forbidden(f"{request.protocol} is disabled in domain {request.domain.slug}")


def _profile_version(domain: Domain, name: str) -> ProfileVersion:
    """The profile's current version with its profile and CA, in one query."""
    version = (
        ProfileVersion.objects.select_related("profile", "ca")
        .filter(profile__domain=domain, profile__name=name, version=F("profile__current_version"))
        .order_by()  # one row at most; Meta.ordering would join domains just to sort it
        .first()
    )
    if version is None:
        raise ValidationError({"profile": f"no profile {name!r} in domain {domain.slug}"})
    return version


def _replay(request: IssueRequest, fingerprint: str) -> Issued | None:
    claim = (
        IdempotencyKey.objects.select_related("certificate__ca")
        .filter(domain=request.domain, key=request.idempotency_key)
        .first()
    )
    if claim is None or claim.certificate is None:
        return None
    if claim.fingerprint != fingerprint:
        raise Conflict(
            "this Idempotency-Key was used for a different request", "idempotency_key_reused"
        )
    cert = claim.certificate
    return Issued(cert, cas.issuing_chain(cert.ca), created=False)


def _claim(request: IssueRequest, fingerprint: str) -> IdempotencyKey:
    """The idempotency key's row, inserted before anything is signed (IntegrityError when an
    earlier request holds the key). Without a key, an unsaved stand-in."""
    if not request.idempotency_key:
        return IdempotencyKey(domain=request.domain, key="", fingerprint=fingerprint)
    return IdempotencyKey.objects.create(
        domain=request.domain, key=request.idempotency_key, fingerprint=fingerprint
    )


def _issue(
    request: IssueRequest,
    version: ProfileVersion,
    spec: profiles.ProfileSpec,
    csr: CsrInfo,
    claim: IdempotencyKey,
) -> Issued:
    try:
        ca = cas.active(version.ca)
    except cas.CaUnavailable as exc:
        raise IssuanceUnavailable(str(exc)) from None
    not_before = certs.now() - BACKDATE
    days = request.validity_days or spec.validity_days
    not_after = min(not_before + BACKDATE + timedelta(days=days), ca.not_after)
    urls = cas.urls(ca.slug)
    template = certs.CertTemplate(
        subject=csr.subject,
        public_key_der=csr.public_key_der,
        serial=certs.random_serial(),
        not_before=not_before,
        not_after=not_after,
        key_usage=list(spec.key_usage),
        ext_key_usage=list(spec.ekus),
        dns_names=csr.dns_names,
        ip_addresses=csr.ip_addresses,
        emails=csr.emails,
        crl_urls=[urls["crl"]],
        ocsp_urls=[urls["ocsp"]],
        ca_issuers_urls=[urls["ca_issuers"]],
    )
    der, chain = sign(ca, template, csr.der, days)
    info = certs.info(der)
    cert = IssuedCertificate.objects.create(
        domain=request.domain,
        ca=ca,
        profile_version=version,
        serial=info.serial_hex,
        der=der,
        subject=info.subject_text[:500],
        sans=info.dns_names + info.ip_addresses,
        not_before=info.not_before,
        not_after=info.not_after,
        fingerprint=info.fingerprint_sha256,
        key_algorithm=f"{csr.key_type}-{csr.curve or csr.key_size}".lower(),
        protocol=request.protocol,
        requester=request.who[:200],
        requested_by=request.user,
    )
    if request.idempotency_key:
        claim.certificate = cert
        claim.save(update_fields=["certificate"])
    _record_evaluation(request, version, csr, profiles.Verdict(True, []))
    record(
        "ca.issue",
        actor=request.user,
        domain=request.domain,
        obj=cert,
        details={
            "serial": cert.serial,
            "ca": ca.slug,
            "profile": version.profile.name,
            "profile_version": version.version,
            "subject": cert.subject,
            "sans": cert.sans,
            "not_after": cert.not_after.isoformat(),
            "protocol": request.protocol,
            "requester": cert.requester,
            **request.extra,
        },
    )
    return Issued(cert, chain, created=True)


def _record_evaluation(
    request: IssueRequest, version: ProfileVersion, csr: CsrInfo, verdict: profiles.Verdict
) -> None:
    # Denials are published to subscribers; an allow is followed by ca.issue, which is, so
    # its own outbox row would only double the relay's work on the hot path.
    record(
        "issuance.profile_evaluated",
        publish=not verdict.allowed,
        actor=request.user,
        domain=request.domain,
        obj=version.profile,
        details={
            "decision": "allow" if verdict.allowed else "deny",
            "reasons": verdict.reasons,
            "profile": version.profile.name,
            "profile_version": version.version,
            "subject": csr.subject_text,
            "sans": csr.dns_names + csr.ip_addresses,
            "key": f"{csr.key_type}-{csr.curve or csr.key_size}",
            "protocol": request.protocol,
            "requester": request.who,
        },
    )


def active_ca_of(profile: Profile) -> CertificateAuthority:
    return cas.active(profiles.current(profile).ca)
