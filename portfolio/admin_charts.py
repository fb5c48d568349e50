"""Charts and readable tables on the Index and Run admin pages (mixed into their admins)."""

from __future__ import annotations


class IndexChartsMixin:
    """Charts of the published run on the Index page."""


class RunChartsMixin:
    """Charts, metrics table and diagnostics table on the Run page."""
