"""The job console on the Index and Run admin pages: "Recompute now", run state and progress,
warnings (mixed into their admins)."""

from __future__ import annotations


class IndexJobsMixin:
    """ "Recompute now" and the warnings on the Index page and list."""


class RunJobsMixin:
    """State, progress, duration and the retry link on the Run page."""
