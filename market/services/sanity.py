"""Price sanity before storage: bars that fail a check are quarantined, never stored.

(Stub: every bar passes. The checks and the quarantine table's writes are filled in here.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from market.models import RefreshRun


@dataclass
class Screened:
    """The bars that may be stored, and per asset id how many were quarantined and why."""

    accepted: pd.DataFrame
    quarantined: dict[int, list[str]] = field(default_factory=dict)

    @property
    def quarantined_count(self) -> int:
        return sum(len(reasons) for reasons in self.quarantined.values())


def bars_screen(rows: pd.DataFrame, *, refresh_run: RefreshRun) -> Screened:
    """Split a batch's vendor bars (``PRICE_COLUMNS`` frame) into accepted and quarantined."""
    return Screened(accepted=rows)
