from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pki.crypto.keys import KeyAlgorithm
from pki.management.commands._refusals import REFUSALS, reason_of
from pki.models import Domain
from pki.services import hierarchy


class Command(BaseCommand):
    help = (
        "Generate a local root and issuing CA for a domain without a key ceremony "
        "(test set-ups and demos; refused unless ANCHORAGE_LOCAL_PKI is on)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain", help="domain slug")
        parser.add_argument(
            "--algorithm",
            default=KeyAlgorithm.EC_P256.value,
            choices=[a.value for a in KeyAlgorithm],
        )
        parser.add_argument("--key-backend", default="default", help="key backend alias")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = Domain.objects.filter(slug=options["domain"]).first()
        if domain is None:
            raise CommandError(f"no domain {options['domain']!r}")
        try:
            root, issuing = hierarchy.create_local_pki(
                domain, KeyAlgorithm(options["algorithm"]), key_backend=options["key_backend"]
            )
        except REFUSALS as exc:
            raise CommandError(reason_of(exc)) from None
        self.stdout.write(f"root CA {root.slug}: {root.subject}")
        self.stdout.write(f"issuing CA {issuing.slug}: {issuing.subject}")
