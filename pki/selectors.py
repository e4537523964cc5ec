"""Reading PKI state for lists (the HackSoft selector half of pki.services): the REST API and
the console filter certificates the same way."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from pki.models import IssuedCertificate

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
