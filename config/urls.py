from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from compat.api import retired as compat_views
from core import metrics as core_metrics
from core import views as core_views

urlpatterns = [
    path("health/live", core_views.health_live, name="health-live"),
    path("health/ready", core_views.health_ready, name="health-ready"),
    # Prometheus (docs/metrics.md): open to METRICS_ALLOWED_NETWORKS or a METRICS_TOKEN bearer.
    path("metrics", core_metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script as a file, so the CSP needs no inline scripts.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    # URLPathVersioning: the view sees ``version``; v2 is the only version served.
    re_path(r"^api/(?P<version>v2)/", include("config.api_urls")),
    # The MVP's clients: /api/v1 in the MVP's shapes on top of v2 (compat app, docs/api-v1.md).
    # A fixed "api/v1/" prefix (not "/?") so reverse() builds /api/v1/auth/login, and no
    # /api/v1auth/... alias is served; the bare /api/v1 gets compat's catch-all 410 too.
    path("api/v1/", include("compat.urls")),
    re_path(r"^api/v1$", compat_views.unknown_route_view),
]

handler400 = "core.errors.bad_request_view"
handler403 = "core.errors.permission_denied_view"
handler404 = "core.errors.not_found_view"
handler500 = "core.errors.server_error_view"
