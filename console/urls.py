from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from console import views, views_certificates, views_devices, views_revocation
from console.login import LoginView

app_name = "console"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/", views.approval_detail, name="approval"),
    path("certificates/", views_certificates.certificates, name="certificates"),
    path("certificates/new", views_certificates.certificate_new, name="certificate-new"),
    re_path(
        r"^certificates/(?P<serial>[0-9A-Fa-f]{1,64})/$",
        views_certificates.certificate_detail,
        name="certificate",
    ),
    re_path(
        r"^certificates/(?P<serial>[0-9A-Fa-f]{1,64})/revoke$",
        views_revocation.certificate_revoke,
        name="certificate-revoke",
    ),
    re_path(
        r"^certificates/(?P<serial>[0-9A-Fa-f]{1,64})/release$",
        views_revocation.certificate_release,
        name="certificate-release",
    ),
    path("devices/", views_devices.devices, name="devices"),
    path("devices/<int:pk>/", views_devices.device_detail, name="device"),
    path("enrollment-credentials/new", views_devices.credential_new, name="credential-new"),
    path(
        "enrollment-credentials/<int:pk>/revoke",
        views_devices.credential_revoke,
        name="credential-revoke",
    ),
    path("audit/", views.audit_log, name="audit"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
