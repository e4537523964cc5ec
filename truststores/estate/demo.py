"""A small estate for `manage.py bootstrap_demo` (domain `demo`), so the console's estate
pages show something real: the demo root and issuing CA and three generated third-party
roots as known CAs, two trust lists (internal services, public-internet-facing) each with
an approved version, twelve consumers across the seed's categories with owners, and their
reports: most in line, some drifting (a CA missing, one extra), one stale, one silent; and a
draft removal plan for one public root, announced in two weeks, so the removal pages show a
timeline.

Made through the estate's own services (audited, approved by the demo approver). Safe to
run again: what exists is left alone, so a second run writes nothing, not even audit
events. Third-party roots are EC P-256 with their keys thrown away (fast; never signed
with)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from pki.crypto.certs import throwaway_root
from pki.models import CertificateAuthority, Domain
from truststores.estate import catalog, changes, drift, inventory, removal, reports
from truststores.estate.models import (
    Consumer,
    ObservedState,
    RemovalPlan,
    TrustedCA,
    TrustList,
)

# (common name, organisation) of the generated third-party roots.
THIRD_PARTY = [
    ("Demo Public Root R1", "Example Trust Services"),
    ("Demo Public Root R2", "Example Web PKI"),
    ("Legacy Partner Root", "Example Partner Inc"),
]
# (slug, scope, name, the CAs it holds: "root" / "issuing" are the demo's own CAs)
LISTS = [
    ("internal-services", "internal", "Internal services", ["root", "issuing"]),
    ("public-internet", "public", "Public-internet-facing", [c for c, _ in THIRD_PARTY[:2]]),
]
# name, kind, category (emb: embedded / third-party), distribution, owner team, client base,
# list (int / pub), and what it reports: ok (its list), missing (one CA short), extra (one
# CA more), stale (days ago) or none
CONSUMERS = """
rhel-web-01        host            os             config_management  platform browser  pub ok
rhel-web-02        host            os             config_management  platform browser  pub missing
base-image-alpine  container_image os             container_build    platform internal int ok
payments-jvm       jvm             application    application_config payments internal int ok
orders-api         service         application    config_management  orders   internal int extra
billing-python     service         application    container_build    billing  internal int stale
edge-lb            load_balancer   infrastructure api_push           network  browser  pub ok
mesh-control-plane mesh            infrastructure api_push           platform internal int ok
keycloak           identity_broker infrastructure config_management  identity browser  pub ok
ingress-proxy      load_balancer   infrastructure config_management  network  browser  pub ok
storage-array      appliance       emb            vendor             storage  internal int none
hr-saas            saas            emb            vendor             people   browser  pub ok
"""
SHORT = {"int": "internal-services", "pub": "public-internet", "emb": "embedded_third_party"}
FIELDS = ["name", "kind", "category", "distribution", "owner_team", "client_base", "trust_list"]
# The root the demo plans to retire (on the public list), and when the plan is announced.
RETIRING = "Demo Public Root R2"
ANNOUNCE_IN = timedelta(days=14)


@dataclass
class DemoEstate:
    trust_lists: list[str]
    consumers: int
    removal_plan: int  # the id of the demo's removal plan
    created: bool  # this run made something


def _third_party(domain: Domain) -> dict[str, TrustedCA]:
    found: dict[str, TrustedCA] = {}
    for cn, org in THIRD_PARTY:
        ca = TrustedCA.objects.filter(domain=domain, subject__contains=f"CN={cn}").first()
        if ca is None:
            ca = catalog.import_cas(domain, throwaway_root([("CN", cn), ("O", org)]))[0]
        found[cn] = ca
    return found


def _own(domain: Domain, root: CertificateAuthority, issuing: CertificateAuthority) -> dict:
    return {
        "root": catalog.import_cas(domain, bytes(root.certificate))[0],
        "issuing": catalog.import_cas(domain, bytes(issuing.certificate))[0],
    }


@transaction.atomic
def ensure_demo_estate(
    domain: Domain,
    root: CertificateAuthority,
    issuing: CertificateAuthority,
    *,
    manager: User,
    approver: User,
) -> DemoEstate:
    """The demo estate, made once: `manager` (estate.manage) proposes, `approver` approves."""
    cas = {**_own(domain, root, issuing), **_third_party(domain)}
    made = False
    lists: dict[str, TrustList] = {}
    for slug, scope, name, members in LISTS:
        found = TrustList.objects.filter(domain=domain, slug=slug).first()
        if found is None:
            found = catalog.create_list(domain, manager, scope=scope, name=name, slug=slug)
            proposal = changes.propose_add(found, [cas[m] for m in members], manager, "demo")
            changes.approve(proposal, approver, "demo estate")
            found.refresh_from_db()
            made = True
        lists[slug] = found
    fresh: list[tuple[Consumer, str]] = []
    existing = set(Consumer.objects.filter(domain=domain).values_list("name", flat=True))
    for line in CONSUMERS.strip().splitlines():
        *values, short, report = (SHORT.get(cell, cell) for cell in line.split())
        if values[0] in existing:
            continue
        fields = dict(zip(FIELDS, [*values, short], strict=True))
        consumer = inventory.create_consumer(domain, manager, fields)
        fresh.append((consumer, report))
    if fresh:
        _report(lists, cas, fresh)
        made = True
    if made:
        drift.compute(timezone.now())
    plan = RemovalPlan.objects.filter(domain=domain, ca=cas[RETIRING]).first()
    if plan is None:
        now = timezone.now()
        plan = removal.create_plan(
            domain,
            manager,
            cas[RETIRING],
            now=now,
            title=f"Retire {RETIRING}",
            description="Demo: the web PKI root is replaced by Demo Public Root R1.",
            announce_at=now + ANNOUNCE_IN,
            replacement_cas=[cas[THIRD_PARTY[0][0]]],
        )
        made = True
    return DemoEstate(
        trust_lists=sorted(lists),
        consumers=Consumer.objects.filter(domain=domain).count(),
        removal_plan=plan.pk,
        created=made,
    )


def _report(
    lists: dict[str, TrustList],
    cas: dict[str, TrustedCA],
    fresh: list[tuple[Consumer, str]],
) -> None:
    """What each new consumer reports: its list's CAs, one missing, one extra, or an old
    report (stale); "none" reports nothing."""
    stale_at = timezone.now() - timedelta(hours=settings.ANCHORAGE_ESTATE_STALE_HOURS + 24)
    for consumer, how in fresh:
        if how == "none" or consumer.trust_list is None:
            continue
        held = sorted(catalog.version_fingerprints(consumer.trust_list.current_version))
        if how == "missing":
            held = held[1:]
        elif how == "extra":
            held = [*held, cas["Legacy Partner Root"].fingerprint]
        reports.record_report(consumer, held, "demo")
        if how == "stale":
            ObservedState.objects.filter(consumer=consumer).update(reported_at=stale_at)
            Consumer.objects.filter(pk=consumer.pk).update(last_report_at=stale_at)
