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
from typing import NoReturn

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.roles import Perm, has_perm
from audit.services import Entry, record_many
from config.errors import Conflict, Forbidden, Unavailable
from pki.crypto import certs
from pki.crypto.csr import CsrError, CsrInfo, inspect
from pki.models import (
    CertificateAuthority,
    Domain,
    IdempotencyKey,
    IssuedCertificate,
    ProfileVersion,
)
from pki.services import cas, ocsp, profiles
from pki.services.ca_driver import sign

BACKDATE = timedelta(minutes=1)  # tolerate relying parties whose clocks run a little slow


class ProfileDenied(Forbidden):
    """The profile refuses the request: 403 with every reason (DESIGN.md)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons), code="profile_denied", reasons=reasons)


class IssuanceUnavailable(Unavailable):
    """The domain cannot issue right now (no active CA): a 503 with the reason."""

    code = "issuance_unavailable"


@dataclass
class IssueRequest:
    domain: Domain
    profile: str
    # PEM or DER, or the CsrInfo a front end already read (checking it), so it is not read twice.
    csr: bytes | str | CsrInfo
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
    item = _prepare(request, {})
    try:
        with transaction.atomic():
            # The claim is the transaction's first write: an identical request running at the
            # same time blocks on the key's unique index until we commit (then its insert
            # fails and it answers with our certificate) or roll back (then it goes on).
            claim = item.claim()
            if request.idempotency_key:
                claim.save(force_insert=True)
            _require_allowed([item])
            ca = _signing_ca(item.version)
            cert, chain = _signed(item, ca)
            cert.save(force_insert=True)
            ocsp.presign_issued([cert])
            if request.idempotency_key:
                claim.certificate = cert
                claim.save(update_fields=["certificate"])
            record_many(_issued_events(item, cert))
            return Issued(cert, chain, created=True)
    except _Refused as refused:
        _refuse([item], refused.verdicts, numbered=False)
    except IntegrityError:
        found = _replay(item) if request.idempotency_key else None
        if found is None:
            raise
        return found


MAX_BATCH = 100


def issue_batch(requests: list[IssueRequest]) -> list[Issued]:
    """Several certificates in one transaction: all of them or none (a batch never half
    happens). Each item meets the same rules as issue() — who asks, the CSR, the profile
    (audited either way), idempotency (per item: retrying the batch returns the same
    certificates) — while authentication, profile loading, the claims, the rows and the audit
    events are paid once per batch instead of once per certificate."""
    if not 1 <= len(requests) <= MAX_BATCH:
        raise ValidationError(f"a batch holds 1 to {MAX_BATCH} requests")
    versions: dict[tuple[int, str], tuple[ProfileVersion, profiles.ProfileSpec]] = {}
    items = [_prepare(r, versions, f"item {i}: ") for i, r in enumerate(requests)]
    try:
        with transaction.atomic():
            claims = IdempotencyKey.objects.bulk_create(
                [item.claim() for item in items if item.request.idempotency_key]
            )
            _require_allowed(items)
            signed = [_signed(item, _signing_ca(item.version)) for item in items]
            rows = IssuedCertificate.objects.bulk_create([cert for cert, _ in signed])
            ocsp.presign_issued(rows)
            keyed_rows = [
                row for item, row in zip(items, rows, strict=True) if item.request.idempotency_key
            ]
            for claim, row in zip(claims, keyed_rows, strict=True):
                claim.certificate = row
            IdempotencyKey.objects.bulk_update(claims, ["certificate"])
            record_many(
                [
                    entry
                    for item, row in zip(items, rows, strict=True)
                    for entry in _issued_events(item, row)
                ]
            )
            return [Issued(row, chain, True) for row, (_, chain) in zip(rows, signed, strict=True)]
    except _Refused as refused:
        _refuse(items, refused.verdicts, numbered=True)
    except IntegrityError:
        replays = [_replay(item) if item.request.idempotency_key else None for item in items]
        if any(found is None for found in replays):
            raise Conflict(
                "some of this batch's idempotency keys are held by another request",
                "idempotency_key_reused",
            ) from None
        return [found for found in replays if found is not None]


@dataclass(frozen=True)
class _Item:
    """A request with what issuance learns about it before the transaction."""

    request: IssueRequest
    csr: CsrInfo
    version: ProfileVersion
    spec: profiles.ProfileSpec
    fingerprint: str

    def claim(self) -> IdempotencyKey:
        """The idempotency key's row (unsaved): inserted before anything is signed, it makes
        an earlier request holding the key surface as an IntegrityError."""
        return IdempotencyKey(
            domain=self.request.domain,
            key=self.request.idempotency_key or "",
            fingerprint=self.fingerprint,
        )


class _Refused(Exception):
    def __init__(self, verdicts: list[profiles.Verdict]) -> None:
        self.verdicts = verdicts


def _prepare(
    request: IssueRequest,
    versions: dict[tuple[int, str], tuple[ProfileVersion, profiles.ProfileSpec]],
    prefix: str = "",
) -> _Item:
    """Who asks, the CSR and the profile's current version (loaded once per profile)."""
    _authorize(request)
    try:
        csr = request.csr if isinstance(request.csr, CsrInfo) else inspect(request.csr)
    except CsrError as exc:
        raise ValidationError(f"{prefix}csr: {exc}") from None
    key = (request.domain.pk, request.profile)
    if key not in versions:
        version = _profile_version(request.domain, request.profile)
        versions[key] = (version, profiles.ProfileSpec.parse(version.spec))
    version, spec = versions[key]
    return _Item(request, csr, version, spec, request.fingerprint(csr))


def _require_allowed(items: list[_Item]) -> None:
    verdicts = [
        profiles.evaluate(
            item.spec,
            item.csr,
            protocol=item.request.protocol,
            validity_days=item.request.validity_days,
        )
        for item in items
    ]
    if not all(v.allowed for v in verdicts):
        raise _Refused(verdicts)


def _refuse(items: list[_Item], verdicts: list[profiles.Verdict], *, numbered: bool) -> NoReturn:
    """Audit every denial in a transaction of its own (it must outlive the refusal), then
    refuse with every reason ("item N: ..." in a batch)."""
    denied = [
        (i, item, v)
        for i, (item, v) in enumerate(zip(items, verdicts, strict=True))
        if not v.allowed
    ]
    with transaction.atomic():
        record_many([_evaluation(item, v) for _, item, v in denied])
    raise ProfileDenied(
        [f"item {i}: {r}" if numbered else r for i, _, v in denied for r in v.reasons]
    ) from None


def _authorize(request: IssueRequest) -> None:
    if request.user is not None and not has_perm(request.user, Perm.CERTS_ISSUE, request.domain):
        raise Forbidden(f"you do not hold {Perm.CERTS_ISSUE.value} in domain {request.domain.slug}")
    if request.user is None and not request.requester:
        raise Forbidden("an issuance needs an authenticated requester")
    if not request.domain.protocol_enabled(request.protocol):
        raise Forbidden(f"{request.protocol} is disabled in domain {request.domain.slug}")


def _profile_version(domain: Domain, name: str) -> ProfileVersion:
    """The profile's current version with its profile and CA, in one query."""
    version = profiles.current_by_name(domain, name)
    if version is None:
        raise ValidationError({"profile": f"no profile {name!r} in domain {domain.slug}"})
    return version


def _replay(item: _Item) -> Issued | None:
    request = item.request
    claim = (
        IdempotencyKey.objects.select_related("certificate__ca")
        .filter(domain=request.domain, key=request.idempotency_key)
        .first()
    )
    if claim is None or claim.certificate is None:
        return None
    if claim.fingerprint != item.fingerprint:
        raise Conflict(
            "this Idempotency-Key was used for a different request", "idempotency_key_reused"
        )
    cert = claim.certificate
    return Issued(cert, cas.issuing_chain(cert.ca), created=False)


def _signing_ca(version: ProfileVersion) -> CertificateAuthority:
    try:
        return cas.active(version.ca)
    except cas.CaUnavailable as exc:
        raise IssuanceUnavailable(str(exc)) from None


def _signed(item: _Item, ca: CertificateAuthority) -> tuple[IssuedCertificate, list[bytes]]:
    """Sign the certificate the profile allows; the row is returned unsaved."""
    request, csr, spec = item.request, item.csr, item.spec
    not_before = certs.now() - BACKDATE
    days = request.validity_days or spec.validity_days
    not_after = min(not_before + BACKDATE + timedelta(days=days), ca.not_after)
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
    )
    der, chain = sign(ca, cas.point_at(template, ca), csr.der, days)
    info = certs.info(der)
    cert = IssuedCertificate(
        domain=request.domain,
        ca=ca,
        profile_version=item.version,
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
    return cert, chain


def _issued_events(item: _Item, cert: IssuedCertificate) -> list[Entry]:
    request, version = item.request, item.version
    issued = Entry(
        "ca.issue",
        actor=request.user,
        domain=request.domain,
        obj=cert,
        details={
            "serial": cert.serial,
            "ca": cert.ca.slug,
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
    return [_evaluation(item, profiles.Verdict(True, [])), issued]


def _evaluation(item: _Item, verdict: profiles.Verdict) -> Entry:
    # Denials are published to subscribers; an allow is followed by ca.issue, which is, so
    # its own outbox row would only double the relay's work on the hot path.
    request, version, csr = item.request, item.version, item.csr
    return Entry(
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
