"""Index endpoints (v2): catalogue, published data, simulations, runs.

Roles: published data and simulations for viewers and up (the index detail also for anonymous
callers when ``PUBLIC_INDEX_SUMMARY`` is on); runs for analysts and up.
"""

from .indexes import (
    IndexAllocationListView,
    IndexBenchmarkView,
    IndexDetailView,
    IndexListView,
    IndexMetricsView,
    IndexValueListView,
)
from .runs import IndexRunDetailView, IndexRunListView
from .series import IndexAllocationHistoryView, IndexDrawdownView
from .simulations import IndexSimulationView

__all__ = [
    "IndexAllocationHistoryView",
    "IndexAllocationListView",
    "IndexBenchmarkView",
    "IndexDetailView",
    "IndexDrawdownView",
    "IndexListView",
    "IndexMetricsView",
    "IndexRunDetailView",
    "IndexRunListView",
    "IndexSimulationView",
    "IndexValueListView",
]
