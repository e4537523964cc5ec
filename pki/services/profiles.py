"""Certificate profiles: the rules a request must meet before anything is signed (seed 002,
F53). A profile is versioned: an edit writes a new version and old ones stay readable, and
every certificate records the version it was issued under."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models, transaction

from audit.services import record
from pki.crypto.csr import CsrError, CsrInfo, inspect
from pki.crypto.names import EKUS, KEY_USAGES, SUBJECT_ATTRIBUTES
from pki.models import CertificateAuthority, Domain, Profile, ProfileVersion, Protocol

_WEAK_CSR_HASHES = {"md5", "sha1"}


@dataclass
class ProfileSpec:
    key_types: list[str] = field(default_factory=lambda: ["rsa", "ec"])
    min_rsa_bits: int = 2048
    ec_curves: list[str] = field(default_factory=lambda: ["P-256", "P-384"])
    key_usage: list[str] = field(default_factory=lambda: ["digitalSignature"])
    ekus: list[str] = field(default_factory=lambda: ["serverAuth"])
    validity_days: int = 90
    max_validity_days: int = 397
    dns_suffixes: list[str] = field(default_factory=list)
    allow_wildcards: bool = False
    ip_networks: list[str] = field(default_factory=list)
    allow_emails: bool = False
    require_san: bool = True
    subject_required: list[str] = field(default_factory=lambda: ["CN"])
    subject_allowed: list[str] = field(default_factory=lambda: ["CN", "O", "OU", "C", "ST", "L"])
    cn_in_san: bool = True
    protocols: list[str] = field(default_factory=lambda: [p.value for p in Protocol])

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ProfileSpec:
        if not isinstance(data, dict):
            raise ValidationError("a profile spec is a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValidationError(f"unknown profile fields: {', '.join(sorted(unknown))}")
        try:
            spec = cls(**data)
        except TypeError as exc:
            raise ValidationError(str(exc)) from None
        spec.check()
        return spec

    def check(self) -> None:
        problems = []
        if set(self.key_types) - {"rsa", "ec", "ed25519"}:
            problems.append("key_types takes rsa, ec, ed25519")
        if self.min_rsa_bits < 2048:
            problems.append("min_rsa_bits must be at least 2048")
        if set(self.ec_curves) - {"P-256", "P-384", "P-521"}:
            problems.append("ec_curves takes P-256, P-384, P-521")
        if set(self.key_usage) - set(KEY_USAGES) or {"keyCertSign", "cRLSign"} & set(
            self.key_usage
        ):
            problems.append("key_usage takes end-entity key usages only")
        if any(e not in EKUS and not _is_oid(e) for e in self.ekus):
            problems.append("ekus are names (serverAuth, clientAuth, ...) or dotted OIDs")
        if not 1 <= self.validity_days <= self.max_validity_days <= 3650:
            problems.append("1 <= validity_days <= max_validity_days <= 3650")
        if set(self.subject_required) - set(self.subject_allowed):
            problems.append("every required subject field must also be allowed")
        if set(self.subject_allowed) - set(SUBJECT_ATTRIBUTES):
            problems.append(f"subject fields are among {', '.join(SUBJECT_ATTRIBUTES)}")
        if set(self.protocols) - set(Protocol.values):
            problems.append(f"protocols are among {', '.join(Protocol.values)}")
        for net in self.ip_networks:
            try:
                ipaddress.ip_network(net)
            except ValueError:
                problems.append(f"{net!r} is not an IP network")
        if problems:
            raise ValidationError(problems)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reasons: list[str]


def evaluate(
    spec: ProfileSpec, csr: CsrInfo, *, protocol: str, validity_days: int | None = None
) -> Verdict:
    """Every reason the request breaks the profile (not just the first)."""
    reasons: list[str] = []
    if not csr.signature_valid:
        reasons.append("the CSR's signature does not verify (no proof of possession)")
    elif csr.signature_hash in _WEAK_CSR_HASHES:
        reasons.append(f"the CSR is signed with {csr.signature_hash}, which is too weak")
    if protocol not in spec.protocols:
        reasons.append(f"the profile does not allow issuance over {protocol}")
    reasons += _key_reasons(spec, csr)
    reasons += _subject_reasons(spec, csr)
    reasons += _san_reasons(spec, csr)
    for eku in csr.requested_ekus:
        if eku not in spec.ekus:
            reasons.append(f"extended key usage {eku} is not allowed by the profile")
    if validity_days is not None and validity_days > spec.max_validity_days:
        reasons.append(
            f"a validity of {validity_days} days exceeds the profile's {spec.max_validity_days}"
        )
    return Verdict(not reasons, reasons)


def preview(profile: Profile, csr: bytes | str, *, protocol: str) -> Verdict:
    """The verdict the profile's active version would give `csr`: a dry run that records
    nothing, for a person to see before submitting (issue() evaluates again)."""
    try:
        info = inspect(csr)
    except CsrError as exc:
        return Verdict(False, [f"csr: {exc}"])
    return evaluate(ProfileSpec.parse(current(profile).spec), info, protocol=protocol)


def _key_reasons(spec: ProfileSpec, csr: CsrInfo) -> list[str]:
    if csr.key_type not in spec.key_types:
        return [f"{csr.key_type} keys are not allowed (allowed: {', '.join(spec.key_types)})"]
    if csr.key_type == "rsa" and csr.key_size < spec.min_rsa_bits:
        return [f"RSA-{csr.key_size} is below the minimum of RSA-{spec.min_rsa_bits}"]
    if csr.key_type == "ec" and csr.curve not in spec.ec_curves:
        return [f"curve {csr.curve} is not allowed (allowed: {', '.join(spec.ec_curves)})"]
    return []


def _subject_reasons(spec: ProfileSpec, csr: CsrInfo) -> list[str]:
    present = {name for name, _ in csr.subject}
    reasons = [f"subject field {n} is required" for n in spec.subject_required if n not in present]
    reasons += [
        f"subject field {n} is not allowed" for n in sorted(present - set(spec.subject_allowed))
    ]
    cn = csr.subject_value("CN")
    if (
        spec.cn_in_san
        and cn
        and csr.dns_names + csr.ip_addresses
        and cn not in (csr.dns_names + csr.ip_addresses)
    ):
        reasons.append(f"the common name {cn!r} is not among the subject alternative names")
    return reasons


def _san_reasons(spec: ProfileSpec, csr: CsrInfo) -> list[str]:
    reasons = []
    if spec.require_san and not (csr.dns_names or csr.ip_addresses or csr.emails):
        reasons.append("a subject alternative name is required")
    for name in csr.dns_names:
        reason = dns_name_reason(spec, name)
        if reason:
            reasons.append(reason)
    networks = [ipaddress.ip_network(n) for n in spec.ip_networks]
    for ip in csr.ip_addresses:
        if not any(ipaddress.ip_address(ip) in net for net in networks):
            reasons.append(f"IP address {ip} is not allowed by the profile")
    if csr.emails and not spec.allow_emails:
        reasons.append("e-mail addresses are not allowed by the profile")
    if csr.uris:
        reasons.append("URIs in the subject alternative name are not allowed")
    return reasons


def dns_name_reason(spec: ProfileSpec, name: str) -> str | None:
    """Why `name` may not go in a certificate under this profile, or None."""
    host = name.lower().rstrip(".")
    if host.startswith("*."):
        if not spec.allow_wildcards:
            return f"wildcard name {name} is not allowed"
        host = host[2:]
    if "*" in host or not host:
        return f"{name!r} is not a valid DNS name"
    suffixes = [s.lower().strip(".") for s in spec.dns_suffixes]
    if not any(host == s or host.endswith("." + s) for s in suffixes):
        allowed = ", ".join(suffixes) or "none"
        return f"DNS name {name} is outside the allowed suffixes ({allowed})"
    return None


def _is_oid(text: str) -> bool:
    parts = text.split(".")
    return len(parts) > 2 and all(p.isdigit() for p in parts)


# --- writes -----------------------------------------------------------------------------------


@transaction.atomic
def save_profile(
    domain: Domain,
    name: str,
    spec: dict[str, Any] | ProfileSpec,
    ca: CertificateAuthority,
    *,
    actor: User | None = None,
    description: str | None = None,
    comment: str = "",
) -> ProfileVersion:
    """Create the profile or add a version to it. Versions are never changed in place."""
    parsed = spec if isinstance(spec, ProfileSpec) else ProfileSpec.parse(spec)
    parsed.check()
    if ca.domain_id != domain.pk:
        raise ValidationError("the signing CA belongs to another domain")
    profile, created = Profile.objects.select_for_update().get_or_create(
        domain=domain, name=name, defaults={"description": description or ""}
    )
    previous = profile.versions.filter(version=profile.current_version).first()
    if previous and previous.spec == parsed.as_json() and previous.ca_id == ca.pk:
        # The rules did not change: no new version, but a new description still counts.
        if description is not None and description != profile.description:
            profile.description = description
            profile.save(update_fields=["description"])
            record(
                "pki.profile.described",
                actor=actor,
                domain=domain,
                obj=profile,
                details={"name": name, "description": description},
            )
        return previous
    version = ProfileVersion.objects.create(
        profile=profile,
        version=profile.current_version + 1,
        spec=parsed.as_json(),
        ca=ca,
        comment=comment[:300],
        created_by=actor,
    )
    profile.current_version = version.version
    if description is not None:
        profile.description = description
    profile.save(update_fields=["current_version", "description"])
    record(
        "pki.profile.created" if created else "pki.profile.versioned",
        actor=actor,
        domain=domain,
        obj=profile,
        details={"name": name, "version": version.version, "ca": ca.slug, "comment": comment},
    )
    return version


def current(profile: Profile) -> ProfileVersion:
    return profile.versions.select_related("ca").get(version=profile.current_version)


def current_by_name(domain: Domain, name: str) -> ProfileVersion | None:
    """The current version of the domain's profile `name` (with its CA), or None. At most one
    row matches (a profile's name is unique in its domain), so no ORDER BY: `.first()` would
    add one, compiled and sorted on every issuance."""
    found = list(
        ProfileVersion.objects.select_related("profile", "ca")
        .filter(profile__domain=domain, profile__name=name)
        .filter(version=models.F("profile__current_version"))
        .order_by()[:1]
    )
    return found[0] if found else None


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Field → {"before", "after"} for every field that changed."""
    keys = sorted(set(old) | set(new))
    return {
        k: {"before": old.get(k), "after": new.get(k)} for k in keys if old.get(k) != new.get(k)
    }
