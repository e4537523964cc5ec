from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.chain import verify


class Command(BaseCommand):
    help = "Check the audit log's hash chain; report the first edited, inserted or deleted event."

    def handle(self, *args: Any, **options: Any) -> None:
        checked, broken = verify()
        if broken is not None:
            raise CommandError(
                f"audit chain broken at {broken} ({checked} events verified before it)"
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {checked} events"))
