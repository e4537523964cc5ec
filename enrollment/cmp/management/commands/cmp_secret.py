"""Make or revoke a CMP shared secret: `cmp_secret DOMAIN [--reference R] [--device NAME]`
prints the reference and the secret (shown once); `--revoke R` revokes one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from enrollment.cmp import services
from enrollment.cmp.models import CmpSecret
from enrollment.models import Device
from pki.models import Domain


class Command(BaseCommand):
    help = "Create (or --revoke) a CMP shared secret of a domain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain")
        parser.add_argument("--reference", default="")
        parser.add_argument("--device", default="", help="the device's name in the domain")
        parser.add_argument("--description", default="")
        parser.add_argument("--revoke", default="", metavar="REFERENCE")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = Domain.objects.filter(slug=options["domain"]).first()
        if domain is None:
            raise CommandError(f"no domain {options['domain']}")
        if options["revoke"]:
            row = CmpSecret.objects.filter(domain=domain, reference=options["revoke"]).first()
            if row is None:
                raise CommandError(f"no CMP secret {options['revoke']} in {domain.slug}")
            services.revoke_secret(row, None, comment="management command")
            self.stdout.write(f"revoked {row.reference}")
            return
        device = None
        if options["device"]:
            device = Device.objects.filter(domain=domain, name=options["device"]).first()
            if device is None:
                raise CommandError(f"no device {options['device']} in {domain.slug}")
        row, secret = services.create_secret(
            domain,
            None,
            reference=options["reference"],
            device=device,
            description=options["description"],
        )
        self.stdout.write(f"reference {row.reference}\nsecret {secret}")
