import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.demo import DEMO_USERS, derived_secret, ensure_user
from enrollment.acme import services as acme
from enrollment.cmp.services import ensure_secret
from enrollment.demo import ensure_demo_devices
from enrollment.services import ensure_credential
from pki.crypto.keys import KeyAlgorithm
from pki.models import CertificateAuthority, Domain, Protocol
from pki.services.default_profiles import ensure_default_profiles
from pki.services.domains import create_domain
from pki.services.hierarchy import create_local_pki
from truststores.estate.demo import ensure_demo_estate

DEMO_SUFFIXES = ["demo.test", "localhost"]
DEMO_EST_USERNAME = "demo-device"
DEMO_CMP_REFERENCE = "demo-cmp"


class Command(BaseCommand):
    help = "Set up a ready demo (domain `demo`, users of every role); safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            domain = Domain.objects.filter(slug="demo").first() or create_domain(
                "demo",
                "Demo",
                description="Demonstration domain (names under demo.test and localhost)",
                protocols=list(Protocol.values),
                is_default=not Domain.objects.filter(is_default=True).exists(),
            )
            logins = {u: ensure_user(u, role, su, domain) for u, role, su in DEMO_USERS}
            root, issuing = _demo_cas(domain)
            ensure_default_profiles(domain, issuing, DEMO_SUFFIXES)
            est = {"username": DEMO_EST_USERNAME, "password": derived_secret("demo-est", 52)}
            ensure_credential(domain, est["username"], est["password"], "demo EST credential")
            cmp = {"reference": DEMO_CMP_REFERENCE, "secret": derived_secret("demo-cmp", 32)}
            ensure_secret(domain, cmp["reference"], cmp["secret"], "demo CMP shared secret")
            acme.enable(domain, issuing, DEMO_SUFFIXES)
            people = get_user_model().objects.in_bulk(
                ["ra_officer", "approver"], field_name="username"
            )
            estate = ensure_demo_estate(
                domain, root, issuing, manager=people["ra_officer"], approver=people["approver"]
            )
            devices = ensure_demo_devices(domain, people["ra_officer"])
        custodians = [logins[u].as_dict() for u in ("custodian1", "custodian2", "custodian3")]
        users: dict[str, Any] = {
            name: login.as_dict()
            for name, login in logins.items()
            if not name.startswith("custodian")
        }
        users["custodians"] = custodians
        out = {
            "domain": domain.slug,
            "cas": {"root": root.slug, "issuing": issuing.slug},
            "users": users,
            "est": est,
            "cmp": cmp,
            "acme": {"directory": f"/acme/{domain.slug}/directory"},
            "estate": {
                "trustLists": estate.trust_lists,
                "consumers": estate.consumers,
                "removalPlan": estate.removal_plan,
            },
            "devices": devices,
        }
        if options["json"]:
            self.stdout.write(json.dumps(out, indent=2))
            return
        self.stdout.write(f"demo domain: {domain.slug} (CAs {root.slug} > {issuing.slug})")
        for name, login in logins.items():
            self.stdout.write(f"  {name:<11} password {login.password}  token {login.token}")
        self.stdout.write(f"  EST (Basic) {est['username']}:{est['password']}")
        self.stdout.write(
            f"  estate: lists {', '.join(estate.trust_lists)}, {estate.consumers} consumers,"
            f" removal plan #{estate.removal_plan}"
        )
        self.stdout.write(f"  devices: {', '.join(devices)}")
        self.stdout.write(f"  CMP -ref {cmp['reference']} -secret pass:{cmp['secret']}")


def _demo_cas(domain: Domain) -> tuple[CertificateAuthority, CertificateAuthority]:
    """The demo's local root + issuing CA, made once (no ceremony: ANCHORAGE_LOCAL_PKI)."""
    existing = CertificateAuthority.objects.filter(domain=domain, parent__isnull=True).first()
    if existing is None:
        return create_local_pki(domain, KeyAlgorithm.EC_P256)
    issuing = CertificateAuthority.objects.filter(
        domain=domain, parent=existing, status=CertificateAuthority.Status.ACTIVE
    ).first()
    assert issuing is not None, "the demo root has no active issuing CA"
    return existing, issuing
