"""/api/v1/: every app's API under one router, plus the OpenAPI schema."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from accounts.api import MeView
from approvals.api import ApprovalRequestViewSet
from audit.api import AuditEventViewSet
from pki.api import DomainViewSet


class Router(DefaultRouter):
    # Paths without a trailing slash, as DESIGN.md writes them (/api/v1/certificates).
    trailing_slash = "/?"


router = Router()
router.register("domains", DomainViewSet, basename="domain")
router.register("approvals", ApprovalRequestViewSet, basename="approval")
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("me", MeView.as_view(), name="me"),
    path("", include(router.urls)),
]
