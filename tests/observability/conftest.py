"""Fixtures of the observability tests: the loopback fake TwelveData (tests/market) and the
migrated index with a published run (tests/observability/refresh_job.py)."""

from __future__ import annotations

import pytest

from portfolio.models import Index, IndexRun
from portfolio.selectors import index_inputs_snapshot
from tests.market.conftest import fake_twelvedata, twelvedata_server  # noqa: F401  (fixtures)


@pytest.fixture
def vendor(settings, request):
    """The fake TwelveData with a generous plan (the real limiter would sleep a minute)."""
    settings.TWELVEDATA_CREDITS_PER_MINUTE = 10_000
    return request.getfixturevalue("fake_twelvedata")


@pytest.fixture
def autoindex_published() -> Index:
    """The migrated index with a published run matching its inputs as they are now, so a
    refresh that changes its prices queues its recompute."""
    index = Index.objects.select_related("strategy").get(slug="autoindex")
    inputs = index_inputs_snapshot(index)
    IndexRun.objects.create(
        index=index,
        status=IndexRun.Status.PUBLISHED,
        trigger=IndexRun.Trigger.CLI,
        config_snapshot={**inputs["config"], "name": index.strategy.name},
        universe_snapshot=inputs["universe"],
    )
    return index
