from django.contrib import admin
from django.urls import include, path

from console.views import healthz
from pki.ocsp.views import ocsp_get, ocsp_post
from pki.views import ca_certificate, crl_complete, crl_delta

handler403 = "config.api.handler403"
handler404 = "config.api.handler404"
handler500 = "config.api.handler500"

admin.site.site_header = "Anchorage administration"
admin.site.site_title = "Anchorage"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("ca/<slug:slug>.crt", ca_certificate, name="ca-certificate"),
    path("crl/<slug:slug>.crl", crl_complete, name="crl"),
    path("crl/<slug:slug>.delta.crl", crl_delta, name="crl-delta"),
    path("ocsp/<slug:ca>/", ocsp_post, name="ocsp"),
    path("ocsp/<slug:ca>/<path:encoded>", ocsp_get, name="ocsp-get"),
    path(".well-known/est/", include("enrollment.est.urls")),
    path(".well-known/cmp/", include("enrollment.cmp.urls")),
    path("acme/", include("enrollment.acme.urls")),
    path("api/v1/", include(("config.api_urls", "api"), namespace="api")),
    path("admin/", admin.site.urls),
    path("", include("console.urls")),
]
