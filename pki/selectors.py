"""Reading PKI state for lists (the HackSoft selector half of pki.services): the REST API and
the console filter certificates the same way."""

from __future__ import annotations

from django.db.models import Q, QuerySet

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
    """`filters` by name: domain, ca, profile, status (exact) and q (subject or a SAN
    contains it); empty values are ignored."""
    for name, field in _EXACT.items():
        if filters.get(name):
            qs = qs.filter(**{field: filters[name]})
    q = filters.get("q")
    if q:
        qs = qs.filter(Q(subject__icontains=q) | Q(sans__icontains=q))
    return qs


def issued_by_fingerprint(domain_id: int, fingerprint: str) -> IssuedCertificate | None:
    """The certificate of the domain with this SHA-256 fingerprint (hex), if we issued it."""
    return (
        IssuedCertificate.objects.filter(domain_id=domain_id, fingerprint=fingerprint)
        .order_by()
        .first()
    )
