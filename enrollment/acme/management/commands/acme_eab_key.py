import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from enrollment.acme import eab
from pki.models import Domain


class Command(BaseCommand):
    help = "Make an ACME external account binding key for a domain; prints the HMAC key once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain", help="the domain's slug")
        parser.add_argument("--comment", default="", help="who the key is for")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = Domain.objects.filter(slug=options["domain"]).first()
        if domain is None:
            raise CommandError(f"no domain {options['domain']!r}")
        made = eab.create_key(domain, comment=options["comment"])
        self.stdout.write(json.dumps({"kid": made.key.key_id, "hmac_key": made.hmac_key}))
