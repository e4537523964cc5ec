"""/.well-known/est/[<domain>/]<operation> (RFC 7030 §3.2.2): the label is a domain's slug;
without it, the default domain answers."""

from django.urls import path

from enrollment.est import views

OPERATIONS = {
    "cacerts": views.cacerts,
    "simpleenroll": views.simpleenroll,
    "simplereenroll": views.simplereenroll,
    "csrattrs": views.csrattrs,
    "serverkeygen": views.serverkeygen,
}

urlpatterns = [path(name, view, name=f"est-{name}") for name, view in OPERATIONS.items()] + [
    path(f"<slug:domain>/{name}", view, name=f"est-domain-{name}")
    for name, view in OPERATIONS.items()
]
