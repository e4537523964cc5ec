"""The estate's maturity on the seed's five levels (Ad-hoc, Tooled, Operationalised,
Integrated, Intelligent), scored from measured facts, never from answers to a survey.

A level is reached when every criterion of it and of the levels below holds; what to do
next is the failing criteria of the level above. The criteria, their thresholds and why
each stands for its level are in docs/estate.md ("Maturity")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

from pki.models import Domain
from truststores.estate.models import (
    Consumer,
    ConsumerCategory,
    Distribution,
    DriftFinding,
    RemovalPlan,
    TrustedCA,
    TrustList,
    TrustListEntry,
)

NAMES = {1: "Ad-hoc", 2: "Tooled", 3: "Operationalised", 4: "Integrated", 5: "Intelligent"}
AUTOMATED = [
    Distribution.OS_PACKAGE,
    Distribution.CONFIG_MANAGEMENT,
    Distribution.CONTAINER_BUILD,
    Distribution.API_PUSH,
]
# Thresholds (shares are fractions of the domain's consumers unless said otherwise).
INVENTORIED_L3 = 0.90
SCOPES_L3 = 2
REPORTING_L4 = 0.90
DRIFT_L4 = 0.05
AUTOMATED_L4 = 0.75
REPORTING_L5 = 0.98
DRIFT_L5 = 0.01
ANTICIPATE_DAYS = 365


@dataclass(frozen=True)
class Criterion:
    level: int
    key: str
    label: str
    value: float
    threshold: float
    at_least: bool  # value >= threshold passes; else value <= threshold passes
    advice: str
    percent: bool = False

    @property
    def passed(self) -> bool:
        return self.value >= self.threshold if self.at_least else self.value <= self.threshold

    def shown(self, number: float) -> str:
        return f"{number * 100:.1f}%" if self.percent else f"{number:g}"

    @property
    def value_text(self) -> str:
        return self.shown(self.value)

    @property
    def threshold_text(self) -> str:
        return ("≥ " if self.at_least else "≤ ") + self.shown(self.threshold)


@dataclass
class Maturity:
    level: int
    facts: dict[str, float]
    criteria: list[Criterion]
    next_steps: list[Criterion] = field(default_factory=list)

    @property
    def name(self) -> str:
        return NAMES[self.level]

    def by_level(self) -> list[tuple[int, str, list[Criterion]]]:
        return [(n, NAMES[n], [c for c in self.criteria if c.level == n]) for n in range(2, 6)]


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def measure(domain: Domain, now: datetime) -> dict[str, float]:
    consumers = Consumer.objects.filter(domain=domain)
    total = consumers.count()
    fresh = now - timedelta(hours=settings.ANCHORAGE_ESTATE_STALE_HOURS)
    reporting = consumers.filter(last_report_at__gte=fresh)
    open_drift = DriftFinding.objects.filter(
        domain=domain, resolved_at__isnull=True, kind__in=["missing", "extra"]
    )
    lists = TrustList.objects.filter(domain=domain, current_version__entries__isnull=False)
    embedded = consumers.filter(category=ConsumerCategory.EMBEDDED)
    on_lists = TrustListEntry.objects.filter(
        version__in=TrustList.objects.filter(domain=domain).values("current_version")
    ).values("ca_id")
    expiring = TrustedCA.objects.filter(
        pk__in=on_lists, not_after__lte=now + timedelta(days=ANTICIPATE_DAYS)
    )
    planned = RemovalPlan.objects.filter(domain=domain).exclude(state=RemovalPlan.State.CANCELLED)
    return {
        "consumers": total,
        "following_a_list": consumers.filter(trust_list__isnull=False).count(),
        "inventoried": consumers.filter(trust_list__isnull=False).exclude(owner_team="").count(),
        "categories": consumers.values("category").distinct().count(),
        "embedded": embedded.count(),
        "embedded_owned_reporting": embedded.exclude(owner_team="")
        .filter(last_report_at__gte=fresh)
        .count(),
        "reporting": reporting.count(),
        "in_drift": open_drift.values("consumer_id").distinct().count(),
        "automated": consumers.filter(distribution__in=AUTOMATED).count(),
        "lists_with_cas": lists.distinct().count(),
        "scopes": lists.values("scope").distinct().count(),
        "plans": planned.exclude(state=RemovalPlan.State.DRAFT).count(),
        "plans_completed": planned.filter(state=RemovalPlan.State.COMPLETED).count(),
        "expiring_cas": expiring.count(),
        "expiring_unplanned": expiring.exclude(
            pk__in=planned.exclude(state=RemovalPlan.State.ROLLED_BACK).values("ca_id")
        ).count(),
    }


def criteria(f: dict[str, float]) -> list[Criterion]:
    n = f["consumers"]
    share = _share
    embedded_ok = share(f["embedded_owned_reporting"], f["embedded"]) if f["embedded"] else 0.0
    return [
        Criterion(2, "lists", "trust lists holding CAs", f["lists_with_cas"], 1, True,
                  "Create an authoritative trust list and add the CAs you trust."),
        Criterion(2, "following", "consumers following a list", f["following_a_list"], 1, True,
                  "Inventory the trust stores you manage and name the list each follows."),
        Criterion(2, "reporting_any", "consumers reporting their state", f["reporting"], 1,
                  True, "Give a managed consumer a report token and let its agent report."),
        Criterion(3, "inventoried", "share inventoried (owner, category, list)",
                  share(f["inventoried"], n), INVENTORIED_L3, True,
                  "Give every consumer an owner team and the list it should follow.", True),
        Criterion(3, "categories", "categories inventoried (OS, application, "
                  "infrastructure, embedded / third-party)", f["categories"],
                  len(ConsumerCategory.values), True,
                  "Inventory the missing segments, embedded and third-party above all."),
        Criterion(3, "scopes", "trust scopes with a list", f["scopes"], SCOPES_L3, True,
                  "Segment the authoritative lists by trust scope."),
        Criterion(3, "plans", "removal plans following the pattern", f["plans"], 1, True,
                  "Establish the transition-window pattern: plan a CA removal with it."),
        Criterion(4, "reporting", "share reporting within the stale window",
                  share(f["reporting"], n), REPORTING_L4, True,
                  "Automate reports from every managed consumer (agent, CI, config mgmt).",
                  True),
        Criterion(4, "drift", "share of consumers in drift (missing / extra)",
                  share(f["in_drift"], n), DRIFT_L4, False,
                  "Resolve open drift findings as routine work, not during incidents.", True),
        Criterion(4, "automated", "share with automated distribution",
                  share(f["automated"], n), AUTOMATED_L4, True,
                  "Move manual and vendor segments to automated distribution.", True),
        Criterion(4, "plans_completed", "removals executed with the pattern",
                  f["plans_completed"], 1, True,
                  "Run a removal plan to completion: the runbook exercised, not improvised."),
        Criterion(5, "reporting_all", "share reporting within the stale window",
                  share(f["reporting"], n), REPORTING_L5, True,
                  "Close the reporting tail.", True),
        Criterion(5, "drift_rare", "share of consumers in drift", share(f["in_drift"], n),
                  DRIFT_L5, False, "Make drift an anomaly that surfaces at once.", True),
        Criterion(5, "vendors", "embedded / third-party consumers owned and reporting",
                  embedded_ok, 1.0, True,
                  "Catalogue vendor trust dependencies with an owner and a report.", True),
        Criterion(5, "anticipated", "listed CAs expiring within a year without a plan",
                  f["expiring_unplanned"], 0, False,
                  "Plan removals ahead of CA expiry instead of reacting to it."),
    ]  # fmt: skip


def score(domain: Domain, now: datetime) -> Maturity:
    facts = measure(domain, now)
    found = criteria(facts)
    level = 1
    for candidate in range(2, 6):
        if all(c.passed for c in found if c.level == candidate):
            level = candidate
        else:
            break
    following = [c for c in found if c.level == level + 1 and not c.passed]
    return Maturity(level=level, facts=facts, criteria=found, next_steps=following)
