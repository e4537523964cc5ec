"""Reading PKI state for lists (the HackSoft selector half of pki.services): the REST API and
the console filter certificates the same way."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from pki.models import CertificateAuthority, CrossCertificate, IssuedCertificate

_EXACT = {
    "domain": "domain__slug",
    "ca": "ca__slug",
    "profile": "profile_version__profile__name",
    "status": "status",
}


def filter_certificates(
    qs: QuerySet[IssuedCertificate], filters: dict[str, str]
) -> QuerySet[IssuedCertificate]:
    """`filters` by name: domain, ca, profile, status (exact), q (subject or a SAN contains
    it) and expires_within (days: not yet expired, expiring within that many); empty or
    unusable values are ignored."""
    for name, field in _EXACT.items():
        if filters.get(name):
            qs = qs.filter(**{field: filters[name]})
    q = filters.get("q")
    if q:
        qs = qs.filter(Q(subject__icontains=q) | Q(sans__icontains=q))
    days = filters.get("expires_within", "")
    if days.isdigit() and int(days) <= 36500:
        now = timezone.now()
        qs = qs.filter(not_after__gt=now, not_after__lte=now + timedelta(days=int(days)))
    return qs


def issued_by_fingerprint(domain_id: int, fingerprint: str) -> IssuedCertificate | None:
    """The certificate of the domain with this SHA-256 fingerprint (hex), if we issued it."""
    return (
        IssuedCertificate.objects.filter(domain_id=domain_id, fingerprint=fingerprint)
        .order_by()
        .first()
    )


def cas_chaining_to(domain_ids: list[int], fingerprint: str) -> list[CertificateAuthority]:
    """The CAs of these domains whose path goes through the CA certificate with this SHA-256
    fingerprint: the CA itself, CAs above which it sits in an imported or upstream chain,
    and every CA below those (children and cross-signed CAs, recursively)."""
    cas = list(
        CertificateAuthority.objects.filter(domain_id__in=domain_ids).only(
            "id", "parent_id", "fingerprint", "external_chain", "slug", "subject", "domain_id"
        )
    )
    fingerprint = fingerprint.lower()
    roots = {
        ca.id
        for ca in cas
        if ca.fingerprint.lower() == fingerprint
        or any(
            hashlib.sha256(bytes.fromhex(h)).hexdigest() == fingerprint for h in ca.external_chain
        )
    }
    children: dict[int, list[int]] = {}
    for ca in cas:
        if ca.parent_id is not None:
            children.setdefault(ca.parent_id, []).append(ca.id)
    # A cross certificate is a second path: what its subject CA issued chains to the issuer.
    crosses = CrossCertificate.objects.filter(issuer_ca__domain_id__in=domain_ids)
    for issuer_id, subject_id in crosses.values_list("issuer_ca_id", "subject_ca_id"):
        children.setdefault(issuer_id, []).append(subject_id)
    found, todo = set(roots), list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return [ca for ca in cas if ca.id in found]


def certificates_chaining_to(
    domain_ids: list[int], fingerprint: str
) -> QuerySet[IssuedCertificate]:
    """Certificates we issued in these domains whose chain goes through that CA certificate."""
    ca_ids = [ca.id for ca in cas_chaining_to(domain_ids, fingerprint)]
    return IssuedCertificate.objects.filter(domain_id__in=domain_ids, ca_id__in=ca_ids)
