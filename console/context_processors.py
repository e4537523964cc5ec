from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from accounts.roles import Perm, domains_with
from console.views_truststores import may_see_truststores


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    items = [
        ("Dashboard", reverse("console:dashboard")),
        ("Approvals", reverse("console:approvals")),
        ("Profiles", reverse("console:profiles")),
        ("CAs", reverse("console:cas")),
    ]
    if may_see_truststores(user):
        items.append(("Truststores", reverse("console:truststores")))
        items.append(("Estate", reverse("console:estate")))
    if user.is_superuser or domains_with(user, Perm.DOMAIN_VIEW).exists():
        items.append(("Devices", reverse("console:devices")))
    if domains_with(user, Perm.CERTS_ISSUE).exists():
        items.append(("ACME keys", reverse("console:acme-keys")))
    if user.is_superuser or domains_with(user, Perm.AUDIT_VIEW).exists():
        items.append(("Audit log", reverse("console:audit")))
    if user.is_staff:
        items.append(("Admin", reverse("admin:index")))
    return {"nav_items": items, "nav_current": request.path}
