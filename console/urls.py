from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from console import (
    views,
    views_acme,
    views_audit,
    views_cas,
    views_certificates,
    views_dashboard,
    views_devices,
    views_estate,
    views_estate_lists,
    views_keygen,
    views_onboard_link,
    views_onboarding,
    views_profiles,
    views_revocation,
    views_truststores,
)
from console.login import LoginView
from enrollment.onboarding_links import LINK_TOKEN_RE

app_name = "console"

urlpatterns = [
    path("", views_dashboard.dashboard, name="dashboard"),
    path("dashboard/jobs", views_dashboard.dashboard_jobs, name="dashboard-jobs"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/", views.approval_detail, name="approval"),
    path("certificates/", views_certificates.certificates, name="certificates"),
    path("certificates/new", views_certificates.certificate_new, name="certificate-new"),
    path("certificates/new-key", views_keygen.certificate_keygen, name="certificate-keygen"),
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
    path("profiles/", views_profiles.profiles, name="profiles"),
    path("profiles/<slug:domain>/<slug:name>/", views_profiles.profile_detail, name="profile"),
    path(
        "profiles/<slug:domain>/<slug:name>/edit",
        views_profiles.profile_edit,
        name="profile-edit",
    ),
    path("acme-keys/", views_acme.eab_keys, name="acme-keys"),
    path("acme-keys/<int:pk>/revoke", views_acme.eab_key_revoke, name="acme-key-revoke"),
    re_path(
        r"^certificates/(?P<serial>[0-9A-Fa-f]{1,64})/renew$",
        views_acme.renew_certificate,
        name="certificate-renew",
    ),
    path("cas/<slug:slug>/renew", views_acme.renew_ca, name="ca-renew"),
    path("cas/", views_cas.ca_list, name="cas"),
    path("cas/<slug:slug>/crl", views_cas.ca_publish_crl, name="ca-publish-crl"),
    path("cas/<slug:slug>/status", views_cas.ca_status, name="ca-status"),
    path("ceremonies/new", views_cas.ceremony_new, name="ceremony-new"),
    path("ceremonies/<int:pk>/", views_cas.ceremony_detail, name="ceremony"),
    path("ceremonies/<int:pk>/status", views_cas.ceremony_status, name="ceremony-status"),
    path("audit/", views_audit.audit_log, name="audit"),
    path("audit/<int:pk>/", views_audit.audit_event, name="audit-event"),
    path("audit/verify", views_audit.audit_verify, name="audit-verify"),
    path("truststores/", views_truststores.truststores, name="truststores"),
    path("truststores/new", views_truststores.truststore_new, name="truststore-new"),
    # At most 18 digits: a bigger number would overflow the database's bigint (a 500).
    re_path(
        r"^truststores/(?P<pk>[0-9]{1,18})/$",
        views_truststores.truststore_detail,
        name="truststore",
    ),
    re_path(
        r"^truststores/(?P<pk>[0-9]{1,18})/status$",
        views_truststores.truststore_status,
        name="truststore-status",
    ),
    re_path(
        r"^truststores/(?P<pk>[0-9]{1,18})/bundle\.pem$",
        views_truststores.truststore_bundle,
        name="truststore-bundle",
    ),
    path("estate/", views_estate.overview, name="estate"),
    path("estate/consumers/", views_estate.consumers, name="estate-consumers"),
    path("estate/consumers.csv", views_estate.consumers_csv, name="estate-consumers-csv"),
    re_path(
        r"^estate/consumers/(?P<pk>[0-9]{1,18})/$",
        views_estate.consumer_detail,
        name="estate-consumer",
    ),
    path("estate/who-trusts", views_estate.who_trusts, name="estate-who-trusts"),
    path("estate/maturity", views_estate.maturity_page, name="estate-maturity"),
    path("estate/lists/", views_estate_lists.trust_lists, name="estate-lists"),
    re_path(
        r"^estate/lists/(?P<pk>[0-9]{1,18})/$",
        views_estate_lists.trust_list_detail,
        name="estate-list",
    ),
    re_path(
        r"^estate/lists/(?P<pk>[0-9]{1,18})/export$",
        views_estate_lists.trust_list_export,
        name="estate-list-export",
    ),
    path("estate/plans/", views_estate_lists.plans, name="estate-plans"),
    path("estate/plans/new", views_estate_lists.plan_new, name="estate-plan-new"),
    re_path(
        r"^estate/plans/(?P<pk>[0-9]{1,18})/$",
        views_estate_lists.plan_detail,
        name="estate-plan",
    ),
    path("devices/", views_devices.devices, name="devices"),
    path("devices/<int:pk>/", views_devices.device_detail, name="device"),
    path("devices/<int:pk>/pkcs12", views_onboarding.device_pkcs12, name="device-pkcs12"),
    path("devices/<int:pk>/onboarding-links", views_onboarding.link_new, name="link-new"),
    path("onboarding-links/<int:pk>/revoke", views_onboarding.link_revoke, name="link-revoke"),
    path(
        "domains/<slug:slug>/onboarding",
        views_onboarding.onboarding_settings,
        name="onboarding-settings",
    ),
    re_path(rf"^onboard/(?P<token>{LINK_TOKEN_RE})$", views_onboard_link.onboard, name="onboard"),
    path("enrollment-credentials/new", views_devices.credential_new, name="credential-new"),
    path(
        "enrollment-credentials/<int:pk>/revoke",
        views_devices.credential_revoke,
        name="credential-revoke",
    ),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
