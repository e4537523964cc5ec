from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.chain import seal, unsealed, verify


class Command(BaseCommand):
    help = "Check the audit log's hash chain; report the first edited, inserted or deleted event."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-seal",
            action="store_true",
            help="only read: do not first seal events committed since the last seal",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_seal"]:
            seal()
        checked, broken = verify()
        if broken is not None:
            raise CommandError(
                f"audit chain broken at {broken} ({checked} events verified before it)"
            )
        pending = unsealed()
        note = f" ({pending} newer events not sealed yet)" if pending else ""
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {checked} events{note}"))
