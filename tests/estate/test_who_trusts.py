"""Which services trust this CA, and which of our certificates chain to it."""

from __future__ import annotations

import pytest

from pki.crypto.keys import KeyAlgorithm
from pki.services import hierarchy, issuance, profiles
from tests.api.conftest import new_csr
from tests.estate.helpers import Estate, bulk_consumers, bulk_report
from tests.pki.helpers import TLS_SERVER
from truststores.estate import catalog, queries

pytestmark = pytest.mark.django_db


def test_who_trusts_by_list_and_by_report(estate: Estate, other_domain) -> None:
    web = bulk_consumers(estate, 30, estate.public, "web")
    api = bulk_consumers(estate, 20, estate.internal, "api")
    bulk_report(api[:5], [estate.fp("Corp Root"), estate.fp("Public A")])  # drifted
    answer = queries.who_trusts([estate.domain.pk], estate.fp("Public A").upper())
    assert [t.slug for t in answer.lists] == ["public"]
    assert set(answer.by_list) == set(web)
    assert set(answer.by_report) == set(api[:5])
    assert answer.consumers.count() == 35
    # Another domain's caller sees none of it.
    hidden = queries.who_trusts([other_domain.pk], estate.fp("Public A"))
    assert hidden.consumers.count() == 0 and hidden.lists == []


def test_our_certificates_chaining_to_a_root(estate: Estate) -> None:
    root, issuing = hierarchy.create_local_pki(estate.domain, KeyAlgorithm.EC_P256)
    spec = {**TLS_SERVER, "dns_suffixes": ["alpha.test"]}
    profiles.save_profile(estate.domain, "web", spec, issuing)
    for n in range(3):
        issuance.issue(
            issuance.IssueRequest(
                domain=estate.domain,
                profile="web",
                csr=new_csr(f"h{n}.alpha.test"),
                protocol="api",
                requester="test",
            )
        )
    fingerprint = root.fingerprint
    catalog.import_cas(estate.domain, bytes(root.certificate))
    answer = queries.who_trusts([estate.domain.pk], fingerprint)
    assert {ca.pk for ca in answer.issuing_cas} == {root.pk, issuing.pk}
    assert answer.certificates.count() == 3
    # A public root we never issued under: nothing of ours chains to it.
    assert queries.who_trusts([estate.domain.pk], estate.fp("Public B")).certificates.count() == 0
