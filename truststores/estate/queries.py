"""The seed's level-3 questions, answered without an emergency discovery exercise:
"which services trust this CA?" (by the list they should follow, and by what they last
reported) and "which of our certificates chain to it?" (pki.selectors)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import QuerySet

from pki import selectors
from pki.models import CertificateAuthority, IssuedCertificate
from truststores.estate.catalog import fingerprint_of
from truststores.estate.models import Consumer, ObservedState, TrustedCA, TrustList


@dataclass
class WhoTrusts:
    fingerprint: str
    cas: list[TrustedCA]
    lists: list[TrustList]
    by_list: QuerySet[Consumer]  # their list's current version holds the CA
    by_report: QuerySet[Consumer]  # their last report holds it
    issuing_cas: list[CertificateAuthority]
    certificates: QuerySet[IssuedCertificate]  # ours, chaining to it

    @property
    def consumers(self) -> QuerySet[Consumer]:
        return (self.by_list | self.by_report).distinct()


def who_trusts(domain_ids: list[int], fingerprint: str) -> WhoTrusts:
    """Within the domains the caller may see (the caller passes them)."""
    fp = fingerprint_of(fingerprint)
    if fp is None:
        raise ValidationError({"fingerprint": "a SHA-256 fingerprint (64 hex digits)"})
    lists = list(
        TrustList.objects.filter(
            domain_id__in=domain_ids, current_version__entries__ca__fingerprint=fp
        ).distinct()
    )
    by_list = Consumer.objects.filter(trust_list__in=[t.pk for t in lists])
    by_report = Consumer.objects.filter(
        domain_id__in=domain_ids, pk__in=_reported_with(domain_ids, fp)
    )
    return WhoTrusts(
        fingerprint=fp,
        cas=list(TrustedCA.objects.filter(domain_id__in=domain_ids, fingerprint=fp)),
        lists=lists,
        by_list=by_list.order_by("name"),
        by_report=by_report.order_by("name"),
        issuing_cas=selectors.cas_chaining_to(domain_ids, fp),
        certificates=selectors.certificates_chaining_to(domain_ids, fp),
    )


def _reported_with(domain_ids: list[int], fp: str) -> list[int]:
    states = ObservedState.objects.filter(consumer__domain_id__in=domain_ids)
    if connection.vendor == "postgresql":
        # jsonb containment (@>), one query whatever the estate's size.
        return list(
            states.filter(fingerprints__contains=[fp]).values_list("consumer_id", flat=True)
        )
    # SQLite has no JSON containment lookup: the embedded default scans.
    return [
        cid for cid, prints in states.values_list("consumer_id", "fingerprints") if fp in prints
    ]
