"""Duplicate requests racing each other (tests/concurrency.py): the same report twice, the
same approval twice, two approvers at once, the same consumer created twice. One effect
each, and the loser answered 409 with a reason, never a 500."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
from django.test import Client

from tests.api.conftest import token_client
from tests.concurrency import run_together
from tests.estate.helpers import Estate, bulk_consumers, prints, removal_plan
from truststores.estate.models import Consumer, ObservedState, TrustListChange, TrustListVersion

pytestmark = pytest.mark.django_db(transaction=True)


def post(client: Client, path: str, data: object) -> Any:
    return client.post(path, json.dumps(data), content_type="application/json")


def test_the_same_report_twice(estate: Estate) -> None:
    [consumer] = bulk_consumers(estate, 1, estate.public, "agent")
    path = f"/api/v1/estate/consumers/{consumer.pk}/report"
    body = {"fingerprints": [estate.fp("Public A"), estate.fp("Public B")]}
    clients = [token_client(estate.people.ra) for _ in range(4)]
    answers = run_together([partial(post, c, path, body) for c in clients])
    assert [a.status_code for a in answers] == [202] * 4, [a.content for a in answers]
    assert ObservedState.objects.filter(consumer=consumer).count() == 1


def test_the_same_approval_twice_and_two_approvers_at_once(estate: Estate) -> None:
    ra = token_client(estate.people.ra)
    changes = "/api/v1/estate/trust-list-changes"
    add = post(
        ra,
        changes,
        {"trustList": estate.internal.pk, "action": "add", "fingerprints": [estate.fp("Public A")]},
    ).json()
    before = TrustListVersion.objects.filter(trust_list=estate.internal).count()
    ann = [token_client(estate.people.ann) for _ in range(2)]
    path = f"{changes}/{add['id']}/approve"
    answers = run_together([partial(post, c, path, {}) for c in ann])
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409], [a.content for a in answers]
    assert json.loads(next(a for a in answers if a.status_code == 409).content)["detail"]
    assert TrustListVersion.objects.filter(trust_list=estate.internal).count() == before + 1

    # A removal needs two: both approvers at once make exactly one new version.
    plan = removal_plan(estate, "Old Root", [estate.public])
    remove = post(
        ra,
        changes,
        {"trustList": estate.public.pk, "action": "remove",
         "fingerprints": [estate.fp("Old Root")], "removalPlan": plan.pk},
    ).json()  # fmt: skip
    before = TrustListVersion.objects.filter(trust_list=estate.public).count()
    pair = [token_client(estate.people.ann), token_client(estate.people.bob)]
    path = f"{changes}/{remove['id']}/approve"
    answers = run_together([partial(post, c, path, {}) for c in pair])
    assert sorted(a.status_code for a in answers) == [200, 200], [a.content for a in answers]
    assert TrustListChange.objects.get(pk=remove["id"]).state == "applied"
    assert TrustListVersion.objects.filter(trust_list=estate.public).count() == before + 1
    assert estate.fp("Old Root") not in prints(estate.public)


def test_the_same_consumer_created_twice(estate: Estate) -> None:
    body = {"domain": "alpha", "name": "twin", "kind": "host", "category": "os",
            "distribution": "os_package"}  # fmt: skip
    clients = [token_client(estate.people.ra) for _ in range(3)]
    answers = run_together([partial(post, c, "/api/v1/estate/consumers", body) for c in clients])
    assert sorted(a.status_code for a in answers) == [201, 409, 409], [a.content for a in answers]
    assert Consumer.objects.filter(name="twin").count() == 1
