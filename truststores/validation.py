"""Truststore bundle validation (issue 5 item 2) and comparison with the deployed bundle
(item 4). Pure functions over pki.crypto.bundles: no models, no database.

Algorithm policy: signature hash SHA-256 or stronger, RSA of 2048 bits or more, ECDSA on
P-256 or P-384 only. Ed25519/Ed448 fail too: the policy lists no EdDSA, and the truststore
documentation promises approvers that "anything else" is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pki.crypto.bundles import BundleRefused, CertFacts, inspect, signed_by

__all__ = ["BundleRefused", "Validation", "compare", "validate"]

MAX_CHAIN = 4  # certificates, issuing CA to root inclusive
EXPIRY_WARNING = timedelta(days=30)
STRONG_HASHES = {"sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512"}
EC_CURVES = {"P-256", "P-384"}
_RANK = {"pass": 0, "warn": 1, "fail": 2}


def _worst(levels: list[str]) -> str:
    return max(levels, key=_RANK.__getitem__, default="pass")


def _finding(level: str, code: str, message: str, indexes: list[int] | None = None) -> dict:
    f: dict[str, Any] = {"level": level, "code": code, "message": message}
    if indexes is not None:
        f["certificates"] = indexes
    return f


@dataclass
class Validation:
    certificates: list[dict]
    findings: list[dict]
    verdict: str
    certificate_count: int
    summary: str = field(default="")

    def as_json(self) -> dict:
        return {
            "verdict": self.verdict,
            "summary": self.summary,
            "certificateCount": self.certificate_count,
            "certificates": self.certificates,
            "findings": self.findings,
        }


def validate(data: bytes, *, now: datetime | None = None) -> Validation:
    """Raises BundleRefused for input that is no bundle at all (or carries a private key);
    a bundle that parses always gets a Validation, failing findings included."""
    now = now or datetime.now(UTC)
    certs = inspect(data)
    per_cert: list[list[dict]] = [_dates(c, now) + _policy(c) for c in certs]
    bundle: list[dict] = []

    first: dict[str, int] = {}  # fingerprint -> first index; duplicates take no part in chains
    dups: dict[str, list[int]] = {}
    for i, c in enumerate(certs):
        if c.fingerprint_sha256 in first:
            dups.setdefault(c.fingerprint_sha256, [first[c.fingerprint_sha256]]).append(i)
        else:
            first[c.fingerprint_sha256] = i
    for fp, idx in dups.items():
        msg = f"certificate {certs[idx[0]].subject} appears {len(idx)} times (SHA-256 {fp[:16]}…)"
        bundle.append(_finding("warn", "duplicate", msg, idx))

    for i, c in enumerate(certs):
        if not c.is_ca:
            per_cert[i].append(
                _finding(
                    "fail",
                    "not_ca",
                    "leaf / end-entity certificate (basicConstraints cA "
                    "is not TRUE); a truststore holds CAs only",
                )
            )
    unique = sorted(first.values())
    bundle += _chains(certs, unique, per_cert)

    entries = [_entry(i, c, per_cert[i]) for i, c in enumerate(certs)]
    verdict = _worst([e["verdict"] for e in entries] + [f["level"] for f in bundle])
    counts = {v: sum(e["verdict"] == v for e in entries) for v in _RANK}
    summary = (
        f"{verdict}: {len(certs)} certificate{'s' if len(certs) != 1 else ''} "
        f"({counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail), "
        f"{len(bundle)} bundle finding{'s' if len(bundle) != 1 else ''}"
    )
    return Validation(entries, bundle, verdict, len(certs), summary)


def _entry(i: int, c: CertFacts, findings: list[dict]) -> dict:
    return {
        "index": i,
        "subject": c.subject,
        "issuer": c.issuer,
        "fingerprint_sha256": c.fingerprint_sha256,
        "is_ca": c.is_ca,
        "not_before": c.not_before.isoformat(),
        "not_after": c.not_after.isoformat(),
        "key_algorithm": c.key_algorithm,
        "key_size": c.key_size,
        "curve": c.curve,
        "signature_algorithm": c.signature_algorithm,
        "signature_hash": c.signature_hash,
        "self_signed": c.self_signed,
        "ski": c.ski,
        "aki": c.aki,
        "verdict": _worst([f["level"] for f in findings]),
        "findings": findings,
    }


def _dates(c: CertFacts, now: datetime) -> list[dict]:
    if c.not_after < now:
        return [_finding("fail", "expired", f"expired on {c.not_after.isoformat()}")]
    if c.not_before > now:
        return [_finding("fail", "not_yet_valid", f"not valid before {c.not_before.isoformat()}")]
    if c.not_after - now < EXPIRY_WARNING:
        days = (c.not_after - now).days
        return [
            _finding("warn", "expiring_soon", f"expires in {days} days ({c.not_after:%Y-%m-%d})")
        ]
    return []


def _policy(c: CertFacts) -> list[dict]:
    out: list[dict] = []
    if c.key_algorithm == "rsa" and c.key_size < 2048:
        out.append(_finding("fail", "weak_key", f"RSA-{c.key_size} key; RSA-2048 or stronger"))
    elif c.key_algorithm == "ec" and c.curve not in EC_CURVES:
        out.append(_finding("fail", "curve", f"ECDSA on {c.curve}; only P-256 or P-384"))
    elif c.key_algorithm not in ("rsa", "ec"):
        out.append(_finding("fail", "key_algorithm", f"{c.key_algorithm} key; only RSA or ECDSA"))
    if c.signature_hash not in STRONG_HASHES:
        what = f"signed with {c.signature_algorithm}"
        if c.self_signed and c.key_algorithm in ("rsa", "ec"):  # an EdDSA root fails above
            # RFC 5280 §6.1.1(d): the trust anchor is an input to path validation; its own
            # signature is never verified, so a weak hash on it weakens nothing.
            out.append(
                _finding(
                    "warn",
                    "root_signature_hash",
                    f"{what}: allowed on a self-signed root only, because the "
                    "signature on a trust anchor is not checked by relying parties",
                )
            )
        elif not c.self_signed:  # the issuer's signature: hash, or EdDSA, outside the policy
            msg = f"{what}; RSA or ECDSA with SHA-256 or stronger"
            out.append(_finding("fail", "signature_hash", msg))
    return out


def _name_key(dn: str) -> str:
    """RFC 5280 §7.1 compares names case-insensitively with whitespace collapsed; the
    signature check decides among candidates anyway, so a loose key only widens the net."""
    return " ".join(dn.casefold().split())


def _chains(certs: list[CertFacts], unique: list[int], per_cert: list[list[dict]]) -> list[dict]:
    """Link each CA to its issuer inside the bundle: candidates are looked up by issuer DN
    (those whose SKI matches the AKI tried first), so a bundle of n certificates costs about
    n signature checks, not n²."""
    by_subject: dict[str, list[int]] = {}
    for i in unique:
        by_subject.setdefault(_name_key(certs[i].subject), []).append(i)
    parent: dict[int, int] = {}
    broken: set[int] = set()
    out: list[dict] = []
    for i in unique:
        c = certs[i]
        if not c.is_ca or c.self_signed:
            continue
        # Only a CA can be an issuer (RFC 5280 §6.1.4(k)); a leaf of that name is no link.
        cands = [j for j in by_subject.get(_name_key(c.issuer), []) if j != i and certs[j].is_ca]
        cands.sort(key=lambda j: certs[j].ski != c.aki if c.aki else False)
        found = next((j for j in cands if signed_by(c, certs[j])), None)
        if found is not None:
            parent[i] = found
            continue
        broken.add(i)
        if cands:
            msg = f"the signature does not verify under {c.issuer} (certificate {cands})"
            per_cert[i].append(_finding("fail", "bad_signature", msg))
            out.append(_finding("fail", "bad_signature", f"{c.subject}: {msg}", [i, *cands]))
        elif c.self_issued:
            msg = "self-issued, but its own key does not verify its signature"
            per_cert[i].append(_finding("fail", "bad_signature", msg))
            out.append(_finding("fail", "bad_signature", f"{c.subject}: {msg}", [i]))
        else:
            msg = f"incomplete chain: issuer {c.issuer} is not in the bundle"
            per_cert[i].append(_finding("fail", "incomplete_chain", msg))
            out.append(_finding("fail", "incomplete_chain", f"{c.subject}: {msg}", [i]))

    is_parent = set(parent.values())
    rings: set[frozenset[int]] = set()
    for i in parent:
        path = [i]
        while path[-1] in parent and parent[path[-1]] not in path:
            path.append(parent[path[-1]])
        if path[-1] in parent:  # the next issuer is already on the path: a loop, no root
            ring = frozenset(path[path.index(parent[path[-1]]) :])
            msg = "chain does not reach a self-signed root: its issuers form a loop"
            per_cert[i].append(_finding("fail", "incomplete_chain", msg))
            if ring not in rings:
                rings.add(ring)
                out.append(_finding("fail", "incomplete_chain", msg, sorted(ring)))
        elif i not in is_parent and path[-1] not in broken and len(path) > MAX_CHAIN:
            # Reported once, from the chain's bottom (issuing) CA; a top in `broken` has
            # already failed for its own link.
            msg = f"chain of {len(path)} certificates; at most {MAX_CHAIN}"
            per_cert[i].append(_finding("fail", "chain_too_long", msg))
            out.append(_finding("fail", "chain_too_long", f"{certs[i].subject}: {msg}", path))
    return out


def compare(new: list[dict] | Validation, deployed: list[dict] | None) -> dict:
    """Added, removed and kept certificates by SHA-256 fingerprint, between the certificate
    entries of a new bundle and those of the deployed one (None: nothing deployed yet)."""
    new_certs = new.certificates if isinstance(new, Validation) else new
    old = {c["fingerprint_sha256"]: c for c in deployed or []}
    cur = {c["fingerprint_sha256"]: c for c in new_certs}

    def brief(c: dict) -> dict:
        keys = ("fingerprint_sha256", "subject", "not_after")
        return {k: c.get(k) for k in keys}

    removed = [brief(c) for fp, c in old.items() if fp not in cur]
    result: dict[str, Any] = {
        "deployed": deployed is not None,
        "added": [brief(c) for fp, c in cur.items() if fp not in old],
        "removed": removed,
        "kept": [brief(c) for fp, c in cur.items() if fp in old],
        "removes_cas": bool(removed),
        "warning": None,
    }
    if removed:
        names = "; ".join(c["subject"] for c in removed)
        result["warning"] = (
            f"This bundle REMOVES {len(removed)} CA{'s' if len(removed) != 1 else ''} "
            f"({names}): clients whose certificates chain to these CAs will stop connecting."
        )
    return result
