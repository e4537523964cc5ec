"""The audit log viewer: filters, an event's detail with its seal, the chain verified on
demand (and a tampered row found), and who may read which events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.roles import Role
from audit import chain
from audit.models import AuditEvent
from audit.services import record
from pki.models import Domain
from tests.audit.test_chain import tampering
from tests.conftest import MakeUser
from tests.console.helpers import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(domain: Domain, other_domain: Domain, make_user: MakeUser) -> list[AuditEvent]:
    sam = make_user("sam", Role.RA_OFFICER, domain)
    made = [
        record("truststores.request.submitted", actor=sam, domain=domain, details={"n": 1}),
        record("truststores.request.approved", domain=domain, details={"n": 2}),
        record("pki.profile.versioned", actor=sam, domain=domain, details={"n": 3}),
        record("pki.profile.versioned", domain=other_domain, details={"secret": "theirs"}),
        record("accounts.login", details={"who": "nobody"}),
    ]
    chain.seal()
    return made


def actions(response: object) -> list[str]:
    return [e.action for e in response.context["page"].object_list]  # type: ignore[attr-defined]


def test_filters(events: list[AuditEvent], domain: Domain, make_user: MakeUser) -> None:
    auditor = logged_in(make_user("audrey", Role.AUDITOR, domain))
    everything = auditor.get("/audit/")
    assert everything.status_code == 200
    # Only the auditor's domain: not the other domain's event, not the domain-less one.
    seen = actions(everything)
    assert "accounts.login" not in seen
    assert seen.count("pki.profile.versioned") == 1
    assert actions(auditor.get("/audit/?actor=sam")) == [
        "pki.profile.versioned",
        "truststores.request.submitted",
    ]
    assert actions(auditor.get("/audit/?action=truststores.")) == [
        "truststores.request.approved",
        "truststores.request.submitted",
    ]
    assert actions(auditor.get("/audit/?action=pki&domain=beta")) == []
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert actions(auditor.get(f"/audit/?since={tomorrow}")) == []
    assert len(actions(auditor.get(f"/audit/?until={tomorrow}&action=truststores"))) == 2
    assert auditor.get("/audit/?since=not-a-date").status_code == 200  # ignored, not a 500


def test_event_detail_and_chain_verification(
    events: list[AuditEvent], domain: Domain, make_user: MakeUser
) -> None:
    auditor = logged_in(make_user("audrey", Role.AUDITOR, domain))
    chain.seal()
    first = AuditEvent.objects.get(pk=events[0].pk)
    page = auditor.get(f"/audit/{first.pk}/")
    assert page.status_code == 200 and page.context["sealed_ok"]
    assert "{&#x27;n&#x27;: 1}" in page.content.decode()  # the details, escaped
    assert auditor.get(f"/audit/{events[3].pk}/").status_code == 404  # another domain's
    assert auditor.get(f"/audit/{events[4].pk}/").status_code == 404  # no domain: superusers

    verified = auditor.post("/audit/verify")
    assert verified.status_code == 200 and verified.context["broken"] is None
    assert verified.context["checked"] == AuditEvent.objects.filter(seq__isnull=False).count()
    assert auditor.get("/audit/verify").status_code == 405

    with tampering() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET details = %s WHERE id = %s", ['{"n": 99}', first.pk]
        )
    verified = auditor.post("/audit/verify")
    assert verified.context["broken"] is not None
    assert verified.context["broken"].seq == first.seq
    assert "The chain is broken" in verified.content.decode()
    assert not auditor.get(f"/audit/{first.pk}/").context["sealed_ok"]


def test_who_may_read(events: list[AuditEvent], domain: Domain, make_user: MakeUser) -> None:
    rachel = logged_in(make_user("rachel", Role.RA_OFFICER, domain))
    assert rachel.get("/audit/").status_code == 403
    assert rachel.get(f"/audit/{events[0].pk}/").status_code == 403
    assert rachel.post("/audit/verify").status_code == 403
    root = logged_in(User.objects.create_superuser("root", "r@example.test", "pw"))
    assert "accounts.login" in actions(root.get("/audit/?action=accounts.login"))
