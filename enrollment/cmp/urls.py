"""/.well-known/cmp/p/<domain> (RFC 9811 §3.3: the path segment names the CA/domain)."""

from django.urls import path

from enrollment.cmp import views

urlpatterns = [path("p/<slug:domain>", views.endpoint, name="cmp")]
