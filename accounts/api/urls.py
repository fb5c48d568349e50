"""Routes of the accounts API, included under ``/api/v2/`` by ``config/api_urls.py``."""

from django.urls import path

from . import views

urlpatterns = [
    path("auth/token", views.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", views.MeView.as_view(), name="auth-me"),
    path("auth/register", views.RegisterView.as_view(), name="auth-register"),
    path("audit-events/", views.AuditEventListView.as_view(), name="audit-event-list"),
]
