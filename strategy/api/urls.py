"""Routes of the strategy API, included under ``/api/v2/`` by ``config/api_urls.py``."""

from django.urls import path

from . import views

urlpatterns = [
    path("strategies/<int:pk>/", views.StrategyDetailView.as_view(), name="strategy-detail"),
]
