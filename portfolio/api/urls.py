"""Routes of the index API, included under ``/api/v2/`` by ``config/api_urls.py``.

The published reads are :func:`~portfolio.api.replay.replayable`: a request the full view has
answered is answered again without DRF while the published run it showed is current.
"""

from django.urls import path

from . import views
from .replay import replayable

urlpatterns = [
    path("indexes/", views.IndexListView.as_view(), name="index-list"),
    path("indexes/<slug:slug>/", replayable(views.IndexDetailView.as_view()), name="index-detail"),
    path(
        "indexes/<slug:slug>/values/",
        replayable(views.IndexValueListView.as_view()),
        name="index-values",
    ),
    path(
        "indexes/<slug:slug>/allocations/",
        replayable(views.IndexAllocationListView.as_view()),
        name="index-allocations",
    ),
    path(
        "indexes/<slug:slug>/allocation-history/",
        replayable(views.IndexAllocationHistoryView.as_view()),
        name="index-allocation-history",
    ),
    path(
        "indexes/<slug:slug>/drawdown/",
        replayable(views.IndexDrawdownView.as_view()),
        name="index-drawdown",
    ),
    path(
        "indexes/<slug:slug>/metrics/",
        replayable(views.IndexMetricsView.as_view()),
        name="index-metrics",
    ),
    path(
        "indexes/<slug:slug>/benchmark/",
        replayable(views.IndexBenchmarkView.as_view()),
        name="index-benchmark",
    ),
    path(
        "indexes/<slug:slug>/simulations/",
        views.IndexSimulationView.as_view(),
        name="index-simulations",
    ),
    path("indexes/<slug:slug>/runs/", views.IndexRunListView.as_view(), name="index-run-list"),
    path(
        "indexes/<slug:slug>/runs/<int:pk>/",
        views.IndexRunDetailView.as_view(),
        name="index-run-detail",
    ),
]
