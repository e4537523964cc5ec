import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.demo import DEMO_USERS, ensure_user
from pki.models import Domain, Protocol
from pki.services.domains import create_domain


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
        custodians = [logins[u].as_dict() for u in ("custodian1", "custodian2", "custodian3")]
        users: dict[str, Any] = {
            name: login.as_dict()
            for name, login in logins.items()
            if not name.startswith("custodian")
        }
        users["custodians"] = custodians
        out = {
            "domain": domain.slug,
            "cas": {},
            "users": users,
            "est": {},
            "cmp": {},
            "acme": {},
        }
        if options["json"]:
            self.stdout.write(json.dumps(out, indent=2))
            return
        self.stdout.write(f"demo domain: {domain.slug}")
        for name, login in logins.items():
            self.stdout.write(f"  {name:<11} password {login.password}  token {login.token}")
