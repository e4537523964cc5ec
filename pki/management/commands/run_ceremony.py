from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pki.management.commands._refusals import REFUSALS, reason_of
from pki.models import Ceremony
from pki.services import hierarchy


class Command(BaseCommand):
    help = (
        "Run an approved key ceremony's CA operation now (the approval engine's task does "
        "this on its own once m custodians approve). Refused without quorum."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("id", type=int, help="the ceremony's id")

    def handle(self, *args: Any, **options: Any) -> None:
        ceremony_id = options["id"]
        if not Ceremony.objects.filter(pk=ceremony_id).exists():
            raise CommandError(f"no ceremony #{ceremony_id}")
        try:
            result = hierarchy.execute(ceremony_id, via="manage.py run_ceremony")
        except REFUSALS as exc:
            raise CommandError(f"ceremony #{ceremony_id} refused: {reason_of(exc)}") from None
        facts = ", ".join(f"{k} {v}" for k, v in result.items())
        self.stdout.write(f"ceremony #{ceremony_id} done: {facts}")
