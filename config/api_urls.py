"""/api/v1/: every app's API under one router, plus the OpenAPI schema."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from accounts.api import MeView
from approvals.api import ApprovalRequestViewSet
from audit.api import AuditEventViewSet
from enrollment.acme.api import EabKeyViewSet, RenewalFlagViewSet
from enrollment.api import DeviceViewSet, EnrollmentCredentialViewSet
from enrollment.cmp.api import CmpSecretViewSet
from enrollment.onboarding_api import OnboardingConfigViewSet, OnboardingLinkViewSet
from pki.api import (
    CeremonyViewSet,
    CertificateAuthorityViewSet,
    CertificateRequestViewSet,
    CertificateViewSet,
    DomainViewSet,
    ProfileViewSet,
)
from truststores.api import (
    DeployedTruststoreView,
    DeploymentTargetViewSet,
    TruststoreRequestViewSet,
)
from truststores.estate.api_inventory import ConsumerViewSet
from truststores.estate.api_lists import TrustListChangeViewSet, TrustListViewSet
from truststores.estate.api_removal import MaturityView, RemovalPlanViewSet
from truststores.estate.api_reports import DriftFindingViewSet, ReportView, WhoTrustsView


class Router(DefaultRouter):
    # JSON is the only format: no `.json` suffix routes (which would also hand every
    # @action a `format` argument it does not take).
    include_format_suffixes = False

    def __init__(self) -> None:
        super().__init__()
        # Paths with or without a trailing slash, as DESIGN.md writes them
        # (/api/v1/certificates). Set after __init__, which overwrites it with "/".
        self.trailing_slash = "/?"


router = Router()
router.register("domains", DomainViewSet, basename="domain")
router.register("approvals", ApprovalRequestViewSet, basename="approval")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("certificates", CertificateViewSet, basename="certificate")
router.register("cas", CertificateAuthorityViewSet, basename="ca")
router.register("ceremonies", CeremonyViewSet, basename="ceremony")
router.register("profiles", ProfileViewSet, basename="profile")
router.register("certificate-requests", CertificateRequestViewSet, basename="certificate-request")
router.register("devices", DeviceViewSet, basename="device")
router.register(
    "enrollment-credentials", EnrollmentCredentialViewSet, basename="enrollment-credential"
)
router.register("onboarding-configs", OnboardingConfigViewSet, basename="onboarding-config")
router.register("onboarding-links", OnboardingLinkViewSet, basename="onboarding-link")
router.register("truststore-requests", TruststoreRequestViewSet, basename="truststore-request")
router.register("truststore-targets", DeploymentTargetViewSet, basename="truststore-target")
router.register("estate/consumers", ConsumerViewSet, basename="estate-consumer")
router.register("estate/trust-lists", TrustListViewSet, basename="estate-trust-list")
router.register(
    "estate/trust-list-changes", TrustListChangeViewSet, basename="estate-trust-list-change"
)
router.register("estate/drift-findings", DriftFindingViewSet, basename="estate-drift-finding")
router.register("cmp-secrets", CmpSecretViewSet, basename="cmp-secret")
router.register("estate/removal-plans", RemovalPlanViewSet, basename="estate-removal-plan")
router.register("acme-eab-keys", EabKeyViewSet, basename="acme-eab-key")
router.register("acme-renewal-flags", RenewalFlagViewSet, basename="acme-renewal-flag")

urlpatterns = [
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^me/?$", MeView.as_view(), name="me"),
    re_path(
        r"^truststores/(?P<truststore_type>mtls|est|provisioning)/?$",
        DeployedTruststoreView.as_view(),
        name="truststore-deployed",
    ),
    re_path(
        r"^estate/consumers/(?P<pk>[0-9]{1,18})/report/?$",
        ReportView.as_view(),
        name="estate-consumer-report",
    ),
    re_path(r"^estate/who-trusts/?$", WhoTrustsView.as_view(), name="estate-who-trusts"),
    re_path(r"^estate/maturity/?$", MaturityView.as_view(), name="estate-maturity"),
    path("", include(router.urls)),
]
