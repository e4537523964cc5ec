"""The dashboard: expiring certificates, approvals waiting for me, CA health, background jobs
(also as JSON for the in-place refresh), all limited to the user's domains."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.roles import Role
from pki.models import Domain, IssuedCertificate
from pki.services.issuance import IssueRequest, issue
from tests.conftest import MakeUser
from tests.console.helpers import logged_in
from tests.pki import conftest as pki_fixtures
from tests.pki.conftest import MakeCsr
from tests.truststores.certs import good_bundle
from truststores import services as truststores
from truststores.models import TruststoreRequest

pki = pki_fixtures.pki
make_csr = pki_fixtures.make_csr

pytestmark = pytest.mark.django_db


def test_the_dashboard_shows_what_needs_a_person(
    pki: Any, domain: Domain, other_domain: Domain, make_user: MakeUser, make_csr: MakeCsr
) -> None:
    olga = make_user("olga", Role.OPERATOR, domain)
    rachel = make_user("rachel", Role.RA_OFFICER, domain)
    ann = make_user("ann", Role.APPROVER, domain)
    soon, later = (
        issue(IssueRequest(domain, "tls-server", make_csr(cn), "api", user=olga)).certificate
        for cn in ("soon.alpha.test", "later.alpha.test")
    )
    IssuedCertificate.objects.filter(pk=soon.pk).update(
        not_after=timezone.now() + timedelta(days=5)
    )
    request = truststores.submit(
        domain, rachel, name="roots", truststore_type="mtls", bundle=good_bundle()
    )
    failed = truststores.submit(
        domain, rachel, name="more", truststore_type="est", bundle=good_bundle("More")
    )
    truststores.approve(failed, ann)
    TruststoreRequest.objects.filter(pk=failed.pk).update(error="deployment failed: x")

    page = logged_in(ann).get("/")
    assert page.status_code == 200
    assert [c.pk for c in page.context["expiring"]] == [soon.pk]
    assert later.pk not in [c.pk for c in page.context["expiring"]]
    assert [a.pk for a in page.context["pending"]] == [request.approval_id]
    assert {row.ca.slug for row in page.context["health"]} == {ca.slug for ca in pki}
    assert page.context["jobs"]["swapsFailed"] == 1

    jobs = logged_in(ann).get("/dashboard/jobs").json()
    assert jobs["swapsFailed"] == 1 and jobs["done"] is False

    # Another domain's user sees none of it.
    stranger = logged_in(make_user("sven", Role.APPROVER, other_domain)).get("/")
    assert list(stranger.context["expiring"]) == [] and stranger.context["pending"] == []
    assert stranger.context["health"] == [] and stranger.context["jobs"]["swapsFailed"] == 0
    assert Client().get("/dashboard/jobs").status_code == 302
