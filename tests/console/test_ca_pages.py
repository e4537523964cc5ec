"""CA and ceremony pages: the hierarchy as a tree with CRL / OCSP facts, a ceremony started
from the form through ceremonies.start (its checks come back as form errors), followed on its
page and its status JSON; who may see and start what, per domain."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.roles import Role
from approvals.tasks import run_action
from audit.models import AuditEvent
from pki.models import Ceremony, CertificateAuthority, Domain
from pki.services import crls
from tests.conftest import MakeUser
from tests.console.helpers import logged_in
from tests.pki import conftest as pki_fixtures
from tests.pki.helpers import People

pki = pki_fixtures.pki
people = pki_fixtures.people

pytestmark = pytest.mark.django_db


def ceremony_form(people: People, **change: Any) -> dict[str, Any]:
    return {
        "domain": "alpha",
        "operation": "create_intermediate",
        "purpose": "a second issuing CA for devices",
        "custodians": [c.username for c in people.custodians],
        "threshold": "2",
        "slug": "alpha-devices",
        "name": "Alpha Devices CA",
        "parent": CertificateAuthority.objects.get(parent__isnull=True).slug,
        "algorithm": "ec-p256",
        **change,
    }


def test_the_hierarchy_is_a_tree_with_crl_and_ocsp_facts(
    pki: Any, people: People, domain: Domain
) -> None:
    root, issuing = pki
    crls.generate(issuing, delta=False)
    page = logged_in(people.operator).get("/cas/")
    assert page.status_code == 200
    [(shown_domain, rows)] = page.context["trees"]
    assert shown_domain == domain
    assert [(r.ca.slug, r.depth) for r in rows] == [(root.slug, 0), (issuing.slug, 1)]
    assert rows[1].crl is not None and rows[1].crl.number >= 1 and not rows[1].crl_stale
    assert rows[1].urls["ocsp"].endswith(f"/ocsp/{issuing.slug}/")
    html = page.content.decode()
    assert f"/crl/{issuing.slug}.crl" in html and "Start a key ceremony" in html


def test_an_operator_starts_a_ceremony_and_follows_it_to_done(
    pki: Any, people: People, domain: Domain
) -> None:
    operator = logged_in(people.operator)
    form = operator.get("/ceremonies/new").context["form"]
    assert {c.username for c in people.custodians} <= {
        v for v, _ in form.fields["custodians"].choices
    }
    started = operator.post("/ceremonies/new", ceremony_form(people))
    assert started.status_code == 302, started.context["form"].errors
    ceremony = Ceremony.objects.get()
    assert started["Location"] == f"/ceremonies/{ceremony.pk}/"
    assert ceremony.threshold == 2 and ceremony.params["slug"] == "alpha-devices"

    status = operator.get(f"/ceremonies/{ceremony.pk}/status").json()
    assert status["state"] == "pending" and status["approvals"] == 0 and not status["done"]
    custodian = logged_in(people.custodians[0])
    assert "Decide as custodian" in custodian.get(f"/ceremonies/{ceremony.pk}/").content.decode()
    people.approve(ceremony, 2)
    assert run_action(ceremony.approval_id) == "done"
    status = operator.get(f"/ceremonies/{ceremony.pk}/status").json()
    assert status["state"] == "done" and status["approvals"] == 2 and status["done"]
    assert CertificateAuthority.objects.filter(slug="alpha-devices").exists()
    detail = operator.get(f"/ceremonies/{ceremony.pk}/")
    assert [u.username for u, voted in detail.context["custodians"] if voted] == [
        c.username for c in people.custodians[:2]
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"parent": "no-such-ca"}, "parent: no CA"),
        ({"threshold": "4"}, "between 1 and the number of custodians"),
        ({"slug": ""}, "Enter a valid"),
        ({"operation": "import"}, "Select a valid choice"),
    ],
)
def test_a_bad_ceremony_comes_back_with_the_reason_and_nothing_starts(
    pki: Any, people: People, change: dict[str, str], reason: str
) -> None:
    answer = logged_in(people.operator).post("/ceremonies/new", ceremony_form(people, **change))
    assert answer.status_code == 200
    assert reason in answer.content.decode()
    assert not Ceremony.objects.exists()


def test_who_may_see_and_start(
    pki: Any, people: People, domain: Domain, other_domain: Domain, make_user: MakeUser
) -> None:
    ceremony = people.start("rotate", {"ca": pki[1].slug})
    rachel = logged_in(make_user("rachel", Role.RA_OFFICER, domain))
    assert rachel.get("/cas/").status_code == 200
    assert "Start a key ceremony" not in rachel.get("/cas/").content.decode()
    assert rachel.get("/ceremonies/new").status_code == 403
    assert rachel.post("/ceremonies/new", ceremony_form(people)).status_code == 403
    assert rachel.get(f"/ceremonies/{ceremony.pk}/").status_code == 200

    stranger = logged_in(make_user("sven", Role.OPERATOR, other_domain))
    assert stranger.get(f"/ceremonies/{ceremony.pk}/").status_code == 404
    assert stranger.get(f"/ceremonies/{ceremony.pk}/status").status_code == 404
    assert stranger.get("/cas/").context["trees"][0][1] == []  # its own domain, empty
    # A custodian of another domain cannot be named here.
    answer = stranger.post("/ceremonies/new", ceremony_form(people, domain="alpha"))
    assert answer.status_code == 200 and not Ceremony.objects.exclude(pk=ceremony.pk).exists()


def test_publishing_crls_is_queued_and_followed(
    pki: Any, people: People, domain: Domain, make_user: MakeUser
) -> None:
    issuing = pki[1]
    operator = logged_in(people.operator)
    before = operator.get(f"/cas/{issuing.slug}/status").json()
    answer = operator.post(f"/cas/{issuing.slug}/crl")
    assert answer.status_code == 302
    after = before["crlNumber"] if isinstance(before["crlNumber"], int) else 0
    assert answer["Location"] == f"/cas/?following={issuing.slug}&after={after}#ca-{issuing.slug}"
    page = operator.get(answer["Location"]).content.decode()
    assert f'data-progress-url="/cas/{issuing.slug}/status?after={after}"' in page
    status = f"/cas/{issuing.slug}/status?after={after}"
    assert operator.get(status).json()["done"] is False
    crls.publish(issuing.pk, delta=False)  # what the queued task does in the worker
    assert operator.get(status).json()["done"] is True
    assert AuditEvent.objects.filter(action="pki.crl.requested").count() == 1

    auditor = logged_in(make_user("audrey", Role.AUDITOR, domain))
    assert auditor.post(f"/cas/{issuing.slug}/crl").status_code == 403
    assert auditor.get(f"/cas/{issuing.slug}/crl").status_code == 405
    assert "Publish CRLs now" not in auditor.get("/cas/").content.decode()
