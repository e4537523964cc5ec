"""The maturity level from measured facts: estates built to sit at each of the five levels,
and what the score says to do next."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.estate.helpers import (
    Estate,
    bulk_consumers,
    bulk_report,
)
from truststores.estate import drift, maturity, removal
from truststores.estate.models import Consumer, RemovalPlan, TrustedCA

pytestmark = pytest.mark.django_db


def level(estate: Estate) -> maturity.Maturity:
    now = timezone.now()
    drift.compute(now)
    return maturity.score(estate.domain, now)


def public_prints(estate: Estate) -> list[str]:
    return [estate.fp("Public A"), estate.fp("Public B"), estate.fp("Old Root")]


def internal_prints(estate: Estate) -> list[str]:
    return [estate.fp("Corp Root"), estate.fp("Corp 2")]


def operationalised(estate: Estate) -> dict[str, list[Consumer]]:
    """Every segment inventoried with an owner and a list; a removal plan announced."""
    groups = {
        "os": bulk_consumers(estate, 120, estate.internal, "host", category="os"),
        "app": bulk_consumers(estate, 200, estate.public, "app"),
        "infra": bulk_consumers(
            estate, 50, estate.internal, "lb", category="infrastructure", distribution="vendor"
        ),
        "box": bulk_consumers(
            estate, 30, estate.internal, "box", category="embedded_third_party",
            distribution="vendor",
        ),
    }  # fmt: skip
    plan = removal.create_plan(
        estate.domain, estate.people.ra, estate.cas["Old Root"], now=timezone.now()
    )
    removal.run_due(plan.pk, timezone.now())
    return groups


def test_level_1_nothing_inventoried_or_reporting(estate: Estate) -> None:
    bulk_consumers(estate, 100, None, "ambient", owner=False)
    score = level(estate)
    assert score.level == 1 and score.name == "Ad-hoc"
    assert {c.key for c in score.next_steps} == {"following", "reporting_any"}
    found = {c.key: c for c in score.criteria}
    assert found["inventoried"].value == 0.0 and found["inventoried"].threshold == 0.9


def test_level_2_some_stores_managed(estate: Estate) -> None:
    managed = bulk_consumers(estate, 40, estate.public, "cloud")
    bulk_consumers(estate, 260, None, "legacy", owner=False)
    bulk_report(managed, public_prints(estate))
    score = level(estate)
    assert score.level == 2
    found = {c.key: c for c in score.criteria}
    assert found["inventoried"].value == pytest.approx(40 / 300)
    assert not found["inventoried"].passed
    assert "inventoried" in {c.key for c in score.next_steps}


def test_level_3_inventoried_with_the_pattern_established(estate: Estate) -> None:
    groups = operationalised(estate)
    bulk_report(groups["app"], public_prints(estate))  # 200 of 400 report: not level 4
    score = level(estate)
    assert score.level == 3, [(c.key, c.value) for c in score.criteria if not c.passed]
    keys = {c.key for c in score.next_steps}
    assert keys == {"reporting", "plans_completed"}
    automated = {c.key: c for c in score.criteria}["automated"]
    assert automated.value == pytest.approx(320 / 400) and automated.value_text == "80.0%"


def test_level_4_verified_and_level_5_anticipating(estate: Estate) -> None:
    groups = operationalised(estate)
    Consumer.objects.filter(name__startswith="lb-").update(distribution="config_management")
    bulk_report(groups["app"], public_prints(estate))
    bulk_report(groups["os"] + groups["infra"], internal_prints(estate))
    # A few drift (an extra CA): under the level-4 threshold, over level 5's.
    bulk_report(groups["os"][:10], [*internal_prints(estate), estate.fp("Public A")])
    RemovalPlan.objects.filter(domain=estate.domain).update(state=RemovalPlan.State.COMPLETED)
    score = level(estate)
    assert score.level == 4, [(c.key, c.value) for c in score.criteria if not c.passed]
    found = {c.key: c for c in score.criteria}
    assert found["drift"].value == pytest.approx(10 / 400)
    assert found["reporting"].value == pytest.approx(370 / 400)
    assert not found["vendors"].passed and not found["drift_rare"].passed

    # The vendors report, the drift is fixed: only the unplanned expiring CAs remain.
    bulk_report(groups["box"] + groups["os"][:10], internal_prints(estate))
    score = level(estate)
    assert score.level == 4
    assert [c.key for c in score.next_steps] == ["anticipated"]
    assert {c.key: c for c in score.criteria}["anticipated"].value == 4  # a year to live
    TrustedCA.objects.filter(domain=estate.domain).update(
        not_after=timezone.now() + timedelta(days=3000)
    )
    score = level(estate)
    assert score.level == 5 and score.name == "Intelligent" and score.next_steps == []
