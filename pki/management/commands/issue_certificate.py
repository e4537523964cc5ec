from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pki.crypto import certs
from pki.management.commands._refusals import REFUSALS, reason_of
from pki.models import Domain, Protocol
from pki.services.issuance import IssueRequest, issue


class Command(BaseCommand):
    help = (
        "Issue a certificate from a CSR file through the one issuance path, as a user who "
        "must hold certs.issue in the domain. Writes the certificate and its chain (PEM)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--domain", required=True, help="domain slug")
        parser.add_argument("--profile", required=True, help="profile name")
        parser.add_argument("--csr", required=True, help="PKCS#10 file (PEM or DER)")
        parser.add_argument("--user", required=True, help="username the issuance is made as")
        parser.add_argument(
            "--idempotency-key",
            help="a retry with the same key and request returns the same certificate",
        )
        parser.add_argument("--out", help="write the PEM here instead of standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = Domain.objects.filter(slug=options["domain"]).first()
        if domain is None:
            raise CommandError(f"no domain {options['domain']!r}")
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']!r}")
        try:
            csr = Path(options["csr"]).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read the CSR: {exc.strerror or exc}") from None
        try:
            issued = issue(
                IssueRequest(
                    domain=domain,
                    profile=options["profile"],
                    csr=csr,
                    protocol=Protocol.API,
                    user=user,
                    idempotency_key=options["idempotency_key"] or None,
                    extra={"via": "manage.py issue_certificate"},
                )
            )
        except REFUSALS as exc:
            raise CommandError(f"refused: {reason_of(exc)}") from None
        cert = issued.certificate
        pem = "".join(certs.der_to_pem(d) for d in [bytes(cert.der), *issued.chain])
        if options["out"]:
            try:
                Path(options["out"]).write_text(pem)
            except OSError as exc:
                raise CommandError(
                    f"cannot write {options['out']}: {exc.strerror or exc}"
                ) from None
        else:
            self.stdout.write(pem, ending="")
        verb = "issued" if issued.created else "already issued under this idempotency key"
        self.stderr.write(f"{verb}: serial {cert.serial}, {cert.subject}, CA {cert.ca.slug}")
