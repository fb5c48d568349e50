"""The MVP's own index levels, compared with our published run (never imported).

The MVP computed its levels with look-ahead bias (weights applied to the same day's return),
so they are not ours to serve; the import reports how far they are from what we publish.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd

from portfolio.models import Index
from portfolio.selectors import index_run_published, index_values_of_run

from .strategy import DEFAULT_INDEX_SLUG
from .summary import ImportSummary


def index_levels_compare(mvp_levels: pd.Series, *, summary: ImportSummary) -> None:
    """Report how far the MVP's levels are from our published run of the default index.

    Both series are rebased to 100 on their first common date (the MVP may have started on
    another day); the summary gives the maximum (with its date) and mean absolute relative
    difference over the common dates. Reads only.
    """
    counts = summary.entity("index levels")
    counts.read += len(mvp_levels)
    counts.skip(
        "the MVP's own results (look-ahead bias): compared, never imported", len(mvp_levels)
    )
    if mvp_levels.empty:
        return
    index = Index.objects.filter(slug=DEFAULT_INDEX_SLUG).first()
    run = index_run_published(index=index) if index is not None else None
    if run is None:
        summary.note("index levels: no published run to compare")
        return
    ours = pd.Series(
        dict(index_values_of_run(run_id=run.pk).values_list("date", "level")), dtype="float64"
    )
    common = mvp_levels.index.intersection(ours.index).sort_values()
    if common.empty:
        summary.note(f"index levels: no date in common with published run #{run.pk}")
        return
    mvp_rebased = mvp_levels[common] / mvp_levels[common[0]]
    ours_rebased = ours[common] / ours[common[0]]
    difference = (mvp_rebased / ours_rebased - 1.0).abs()
    worst: datetime.date = difference.idxmax()
    summary.note(
        f"index levels vs published run #{run.pk} of '{DEFAULT_INDEX_SLUG}': {len(common)} common "
        f"dates, rebased to 100 on {common[0]:%Y-%m-%d}: max |difference| "
        f"{difference.max():.2%} on {worst:%Y-%m-%d}, mean {float(np.mean(difference)):.2%}"
    )
