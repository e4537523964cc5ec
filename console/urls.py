from django.contrib.auth import views as auth_views
from django.urls import path

from console import views
from console.login import LoginView

app_name = "console"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/", views.approval_detail, name="approval"),
    path("audit/", views.audit_log, name="audit"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
