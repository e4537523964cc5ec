from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pki.models import CertificateAuthority, Domain

COLUMNS = ["slug", "domain", "kind", "status", "algorithm", "backend", "not_after"]


class Command(BaseCommand):
    help = "List certificate authorities, all or of one domain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--domain", help="domain slug")

    def handle(self, *args: Any, **options: Any) -> None:
        cas = CertificateAuthority.objects.select_related("domain").order_by(
            "domain__slug", "created_at", "pk"
        )
        if options["domain"]:
            domain = Domain.objects.filter(slug=options["domain"]).first()
            if domain is None:
                raise CommandError(f"no domain {options['domain']!r}")
            cas = cas.filter(domain=domain)
        rows = [
            [
                ca.slug,
                ca.domain.slug,
                ca.kind,
                ca.status,
                ca.key_algorithm,
                ca.key_backend or "-",
                ca.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            ]
            for ca in cas
        ]
        if not rows:
            self.stdout.write("no CAs")
            return
        widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
        for row in [COLUMNS, *rows]:
            self.stdout.write(
                "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            )
