from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from audit.webhooks import create_endpoint
from pki.models import Domain


class Command(BaseCommand):
    help = "Create a webhook endpoint for outbox messages; prints its signing secret once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("url")
        parser.add_argument(
            "--topic", action="append", default=[], help="topic prefix (repeatable)"
        )
        parser.add_argument("--domain", help="only this domain's messages")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = None
        if options["domain"]:
            domain = Domain.objects.filter(slug=options["domain"]).first()
            if domain is None:
                raise CommandError(f"no domain {options['domain']!r}")
        with transaction.atomic():
            endpoint, secret = create_endpoint(
                options["name"], options["url"], topics=options["topic"], domain=domain
            )
        self.stdout.write(f"webhook {endpoint.pk} created; signing secret (shown once): {secret}")
