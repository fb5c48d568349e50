"""Whole-run series of the published run: the allocation history and the drawdowns, each in one
request, cached by run with ETag/304 like the other published reads."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from tests.portfolio.published import level_on, published_index_build, run_build, trading_days

from .conftest import api_url, assert_problem

pytestmark = pytest.mark.django_db

DAYS = 30
# DRF's own rendering of a 6-place decimal: what every number of the API looks like.
SIX_PLACES = serializers.DecimalField(max_digits=24, decimal_places=6)


def six(value: float) -> str:
    return str(SIX_PLACES.to_representation(value))


@pytest.fixture
def index():
    return published_index_build(slug="series", assets=3, days=DAYS, rebalance_every=10)


@pytest.fixture
def viewer(client_as):
    return client_as("viewer")


def _expected_drawdowns(days: int, shift: float = 0.0) -> list[str]:
    peak = float("-inf")
    shown = []
    for number in range(days):
        level = level_on(number, shift=shift)
        peak = max(peak, level)
        shown.append(six(level / peak - 1.0))
    return shown


def test_allocation_history_is_every_rebalance_as_one_matrix(viewer, index):
    response = viewer.get(api_url("index-allocation-history", slug="series"))

    assert response.status_code == 200
    body = response.json()
    run_id = index.runs.get(status="published").pk
    dates = trading_days(DAYS)
    assert body == {
        "index": "series",
        "run_id": run_id,
        "dates": [day.isoformat() for day in dates[::10]],
        "symbols": ["SERIES000", "SERIES001", "SERIES002"],
        "sectors": ["Sector 0", "Sector 1", "Sector 2"],
        "weights": [["0.166667", "0.333333", "0.500000"]] * 3,
    }


def test_allocation_history_window_keeps_the_rebalances_inside_it(viewer, index):
    dates = trading_days(DAYS)

    response = viewer.get(
        api_url("index-allocation-history", slug="series"),
        {"start": dates[5].isoformat(), "end": dates[25].isoformat()},
    )

    assert response.status_code == 200
    assert response.json()["dates"] == [dates[10].isoformat(), dates[20].isoformat()]
    assert len(response.json()["weights"]) == 2


def test_allocation_history_marks_assets_not_held_with_zero(viewer, index):
    run = index.runs.get(status="published")
    dropped = run.allocations.filter(
        asset__symbol="SERIES000", rebalance_date=trading_days(DAYS)[20]
    )
    dropped.delete()

    body = viewer.get(api_url("index-allocation-history", slug="series")).json()

    assert body["weights"][2] == ["0.000000", "0.333333", "0.500000"]


def test_drawdown_is_level_over_running_max_minus_one(viewer, index):
    response = viewer.get(api_url("index-drawdown", slug="series"))

    assert response.status_code == 200
    body = response.json()
    expected = _expected_drawdowns(DAYS)
    assert body["index"] == "series"
    assert body["kind"] == "price"
    assert body["dates"] == [day.isoformat() for day in trading_days(DAYS)]
    assert body["drawdowns"] == expected
    assert body["drawdowns"][0] == "0.000000"
    assert body["max_drawdown"] == min(expected, key=float)
    assert float(body["max_drawdown"]) < 0


def test_drawdown_window_is_a_slice_of_the_whole_history(viewer, index):
    dates = trading_days(DAYS)

    body = viewer.get(
        api_url("index-drawdown", slug="series"),
        {"start": dates[12].isoformat(), "end": dates[20].isoformat()},
    ).json()

    assert body["dates"] == [day.isoformat() for day in dates[12:21]]
    assert body["drawdowns"] == _expected_drawdowns(DAYS)[12:21]


def test_drawdown_of_a_run_without_total_levels_refuses_kind_total(viewer):
    index = published_index_build(slug="old", days=20, publish=False)
    run_build(index=index, days=20, with_total=False)

    body = assert_problem(viewer.get(api_url("index-drawdown", slug="old"), {"kind": "total"}), 409)

    assert body["type"].endswith("/problems/total-return-unavailable")


@pytest.mark.parametrize("name", ["index-allocation-history", "index-drawdown"])
def test_series_answer_304_to_their_etag_until_a_new_run_is_published(viewer, index, name):
    first = viewer.get(api_url(name, slug="series"))
    etag = first["ETag"]

    again = viewer.get(api_url(name, slug="series"), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""

    new_run = run_build(index=index, days=DAYS, rebalance_every=15, shift=5.0)
    after = viewer.get(api_url(name, slug="series"), HTTP_IF_NONE_MATCH=etag)

    assert after.status_code == 200
    assert after["ETag"] != etag
    assert after.json()["run_id"] == new_run.pk
    if name == "index-drawdown":
        assert after.json()["drawdowns"] == _expected_drawdowns(DAYS, shift=5.0)
    else:
        assert after.json()["dates"] == [day.isoformat() for day in trading_days(DAYS)[::15]]


@pytest.mark.parametrize("name", ["index-allocation-history", "index-drawdown"])
def test_series_are_empty_until_a_run_is_published(viewer, name):
    published_index_build(slug="draft", days=10, publish=False)

    body = viewer.get(api_url(name, slug="draft")).json()

    assert body["run_id"] is None
    assert body["dates"] == []


@pytest.mark.parametrize("name", ["index-allocation-history", "index-drawdown"])
@pytest.mark.parametrize(("role", "status"), [("anonymous", 401), ("no-role", 403)])
def test_series_need_the_viewer_role(client_as, index, name, role, status):
    response = client_as(role).get(api_url(name, slug="series"))

    assert response.status_code == status


@pytest.mark.parametrize("name", ["index-allocation-history", "index-drawdown"])
def test_series_of_an_unknown_index_are_404(viewer, name):
    assert_problem(viewer.get(api_url(name, slug="nope")), 404)


@pytest.mark.parametrize("name", ["index-allocation-history", "index-drawdown"])
def test_second_series_read_is_served_from_redis_without_a_query(
    viewer, index, name, django_assert_num_queries
):
    first = viewer.get(api_url(name, slug="series"))

    with django_assert_num_queries(0):
        second = viewer.get(api_url(name, slug="series"))

    assert second.status_code == 200
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]
