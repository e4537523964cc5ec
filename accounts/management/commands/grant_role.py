from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.roles import Role, grant_role, revoke_role
from pki.models import Domain


class Command(BaseCommand):
    help = "Grant (or with --revoke, take back) a role to a user in one domain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("role", choices=[r.value for r in Role])
        parser.add_argument("domain", help="domain slug")
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        domain = Domain.objects.filter(slug=options["domain"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        if domain is None:
            raise CommandError(f"no domain {options['domain']!r}")
        role = Role(options["role"])
        changed = (revoke_role if options["revoke"] else grant_role)(user, role, domain)
        if not changed:
            self.stdout.write("nothing to change")
            return
        verb = "revoked from" if options["revoke"] else "granted to"
        self.stdout.write(f"{role.value} {verb} {user.username} in {domain.slug}")
