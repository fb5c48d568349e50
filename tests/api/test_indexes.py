"""Index endpoints: catalogue, levels, allocations, metrics, benchmark (published data only)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from market.models import Dividend
from portfolio.models import Index, IndexRun
from tests.portfolio.published import (
    BENCHMARK_GAP_EVERY,
    TOTAL_DRIFT,
    benchmark_close_on,
    level_on,
    published_index_build,
    run_build,
    trading_days,
)

from .conftest import api_url, assert_problem

pytestmark = pytest.mark.django_db

D = datetime.date
# JWT authentication loads the user (1) and the permission check the user's groups (1).
AUTH_QUERIES = 2


@pytest.fixture
def index() -> Index:
    return published_index_build(slug="synthetic", assets=4, days=120)


@pytest.fixture
def viewer(client_as):
    return client_as("viewer")


def six(value: float) -> str:
    return str(Decimal(repr(value)).quantize(Decimal("0.000001")))


# CATALOGUE


def test_index_list_shows_each_index_with_its_published_run(viewer, index):
    unpublished = published_index_build(slug="draft", publish=False, benchmark=False)

    response = viewer.get(api_url("index-list"))

    assert response.status_code == 200
    by_slug = {row["slug"]: row for row in response.json()["results"]}
    assert "autoindex" in by_slug  # created by a data migration
    run = IndexRun.objects.get(index=index, status="published")
    assert by_slug["synthetic"] == {
        "slug": "synthetic",
        "name": "Synthetic Index",
        "base_value": "100.0000",
        "base_currency": "USD",
        "benchmark": "SYNTHETIBM",
        "universe": ["SYNTHETI000", "SYNTHETI001", "SYNTHETI002", "SYNTHETI003"],
        "published_run": {
            "id": run.pk,
            "data_through": run.data_through.isoformat(),
            "last_level": six(run.last_level),
            "last_total_level": six(level_on(119, drift=TOTAL_DRIFT)),
            "published_at": run.published_at.isoformat().replace("+00:00", "Z"),
        },
    }
    assert by_slug[unpublished.slug]["published_run"] is None
    assert by_slug[unpublished.slug]["benchmark"] is None


def test_index_list_is_paginated_and_ordered_by_slug(viewer, index):
    response = viewer.get(api_url("index-list"), {"page_size": 1, "page": 2})

    body = response.json()
    assert body["count"] == Index.objects.count()
    assert [row["slug"] for row in body["results"]] == ["synthetic"]
    assert body["previous"] is not None


def test_index_list_queries_do_not_grow_with_the_number_of_indexes(
    viewer, django_assert_max_num_queries
):
    for number in range(55):
        published_index_build(
            slug=f"many-{number:02d}", assets=2, days=5, benchmark=number % 2 == 0
        )

    # auth 2 + count + page + universes + published runs
    with django_assert_max_num_queries(AUTH_QUERIES + 4):
        response = viewer.get(api_url("index-list"), {"page_size": 100})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 56


def test_index_detail_adds_strategy_inception_and_whole_history_metrics(viewer, index):
    response = viewer.get(api_url("index-detail", slug="synthetic"))

    assert response.status_code == 200
    body = response.json()
    run = IndexRun.objects.get(index=index, status="published")
    assert body["strategy"] == index.strategy_id
    assert body["description"] == "Synthetic index synthetic."
    assert body["inception_date"] == "2023-01-02"
    assert body["published_run"]["id"] == run.pk
    assert body["metrics"]["range_start"] == "2023-01-02"
    assert body["metrics"]["total_return"] == pytest.approx(run.metrics["max"]["total_return"])
    assert body["metrics"]["beta"] == run.metrics["max"]["beta"]


def test_index_detail_of_an_unknown_or_deleted_index_is_404(viewer, index):
    assert_problem(viewer.get(api_url("index-detail", slug="nope")), 404)
    index.delete()  # soft delete
    assert_problem(viewer.get(api_url("index-detail", slug="synthetic")), 404)


def test_public_index_summary_lets_anonymous_read_the_detail_only(api_client, index, settings):
    assert_problem(api_client.get(api_url("index-detail", slug="synthetic")), 401)

    settings.PUBLIC_INDEX_SUMMARY = True

    assert api_client.get(api_url("index-detail", slug="synthetic")).status_code == 200
    assert_problem(api_client.get(api_url("index-values", slug="synthetic")), 401)
    assert_problem(api_client.get(api_url("index-list")), 401)


# LEVELS


def test_values_are_the_published_levels_by_date_with_six_places(viewer, index):
    response = viewer.get(api_url("index-values", slug="synthetic"), {"page_size": 5})

    assert response.status_code == 200
    body = response.json()
    days = trading_days(5)
    assert body["results"] == [
        {"date": day.isoformat(), "level": six(level_on(number))} for number, day in enumerate(days)
    ]
    assert body["previous"] is None
    follow = viewer.get(body["next"])
    assert follow.json()["results"][0]["date"] == trading_days(6)[5].isoformat()


def test_values_of_kind_total_are_the_total_return_levels(viewer, index):
    response = viewer.get(
        api_url("index-values", slug="synthetic"), {"page_size": 3, "kind": "total"}
    )

    assert response.status_code == 200
    assert response.json()["results"] == [
        {"date": day.isoformat(), "level": six(level_on(number, drift=TOTAL_DRIFT))}
        for number, day in enumerate(trading_days(3))
    ]
    assert response.json()["results"][1]["level"] != six(level_on(1))


def test_values_of_an_unknown_kind_are_a_400_on_the_kind(viewer, index):
    body = assert_problem(
        viewer.get(api_url("index-values", slug="synthetic"), {"kind": "dividends"}), 400
    )

    assert [error["pointer"] for error in body["errors"]] == ["#/kind"]


@pytest.mark.parametrize("name", ["index-values", "index-benchmark", "index-metrics"])
def test_kind_total_of_a_run_computed_before_total_levels_is_a_409_problem(viewer, name):
    old = published_index_build(slug="before-total", publish=False)
    run = run_build(index=old, with_total=False)

    response = viewer.get(api_url(name, slug="before-total"), {"kind": "total"})

    body = assert_problem(response, 409)
    assert body["type"] == "https://autoindex.example/problems/total-return-unavailable"
    assert f"run #{run.pk}" in body["detail"]
    assert viewer.get(api_url(name, slug="before-total"), {"kind": "price"}).status_code == 200


def test_values_ignore_runs_that_are_not_published(viewer, index):
    run_build(index=index, shift=1000.0, publish=False)  # succeeded, not published
    run_build(index=index, shift=2000.0, status=IndexRun.Status.FAILED)

    response = viewer.get(api_url("index-values", slug="synthetic"), {"page_size": 1})

    assert response.json()["results"][0]["level"] == six(level_on(0))


def test_values_window_is_inclusive(viewer, index):
    days = trading_days(120)

    response = viewer.get(
        api_url("index-values", slug="synthetic"),
        {"start": days[10].isoformat(), "end": days[12].isoformat()},
    )

    assert [row["date"] for row in response.json()["results"]] == [
        day.isoformat() for day in days[10:13]
    ]


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"start": "2023-02-30"}, "#/start"),
        ({"end": "yesterday"}, "#/end"),
        ({"start": "2023-03-01", "end": "2023-02-01"}, "#/end"),
    ],
)
def test_values_refuse_bad_dates_with_field_errors(viewer, index, params, pointer):
    body = assert_problem(viewer.get(api_url("index-values", slug="synthetic"), params), 400)

    assert [error["pointer"] for error in body["errors"]] == [pointer]


def test_values_of_an_index_without_a_published_run_are_empty(viewer):
    published_index_build(slug="draft", publish=False)

    response = viewer.get(api_url("index-values", slug="draft"))

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_values_page_is_a_fixed_number_of_queries(viewer, index, django_assert_max_num_queries):
    # auth 2 + published pointer + the page
    with django_assert_max_num_queries(AUTH_QUERIES + 2):
        response = viewer.get(api_url("index-values", slug="synthetic"), {"page_size": 100})

    assert len(response.json()["results"]) == 100


# ALLOCATIONS


def test_allocations_default_to_the_latest_rebalance_heaviest_first(viewer, index):
    response = viewer.get(api_url("index-allocations", slug="synthetic"))

    assert response.status_code == 200
    body = response.json()
    last_rebalance = trading_days(120)[::20][-1].isoformat()
    assert body["count"] == 4
    assert body["results"][0] == {
        "rebalance_date": last_rebalance,
        "symbol": "SYNTHETI003",
        "name": "SYNTHETI asset 3",
        "sector": "Sector 0",
        "asset_class": "equity",
        "weight": "0.400000",
    }
    assert [row["weight"] for row in body["results"]] == [
        "0.400000",
        "0.300000",
        "0.200000",
        "0.100000",
    ]
    assert sum(Decimal(row["weight"]) for row in body["results"]) == 1


def test_allocations_on_a_date_use_the_latest_rebalance_on_or_before_it(viewer, index):
    rebalances = trading_days(120)[::20]
    between = rebalances[2] + datetime.timedelta(days=3)

    on_the_day = viewer.get(
        api_url("index-allocations", slug="synthetic"), {"date": rebalances[2].isoformat()}
    )
    after = viewer.get(api_url("index-allocations", slug="synthetic"), {"date": between})
    before_inception = viewer.get(
        api_url("index-allocations", slug="synthetic"), {"date": "2020-01-01"}
    )

    assert {row["rebalance_date"] for row in on_the_day.json()["results"]} == {
        rebalances[2].isoformat()
    }
    assert {row["rebalance_date"] for row in after.json()["results"]} == {rebalances[2].isoformat()}
    assert before_inception.json()["results"] == []


def test_allocations_refuse_a_bad_date(viewer, index):
    body = assert_problem(
        viewer.get(api_url("index-allocations", slug="synthetic"), {"date": "2024-13-01"}), 400
    )
    assert body["errors"][0]["pointer"] == "#/date"


def test_allocations_with_many_assets_join_the_assets_in_the_same_query(
    viewer, django_assert_max_num_queries
):
    published_index_build(slug="wide", assets=80, days=30, rebalance_every=10)

    # auth 2 + pointer + count + page (assets joined)
    with django_assert_max_num_queries(AUTH_QUERIES + 3):
        response = viewer.get(api_url("index-allocations", slug="wide"), {"page_size": 200})

    results = response.json()["results"]
    assert len(results) == 80
    assert results[0]["symbol"] == "WIDE079"
    assert sum(Decimal(row["weight"]) for row in results) == pytest.approx(
        Decimal(1), abs=Decimal("0.0001")
    )


# METRICS


@pytest.mark.parametrize("range_name", ["1m", "3m", "ytd", "1y", "3y", "5y", "max"])
def test_metrics_come_from_the_published_run(viewer, index, range_name):
    run = IndexRun.objects.get(index=index, status="published")

    response = viewer.get(api_url("index-metrics", slug="synthetic"), {"range": range_name})

    assert response.status_code == 200
    body = response.json()
    assert (body["index"], body["run_id"], body["range"]) == ("synthetic", run.pk, range_name)
    assert body["data_through"] == run.data_through.isoformat()
    stored = run.metrics[range_name]
    assert body["metrics"]["total_return"] == pytest.approx(stored["total_return"])
    assert body["metrics"]["range_start"] == stored["range_start"]
    assert body["metrics"]["clipped"] == stored["clipped"]


def test_metrics_of_kind_total_come_from_the_total_return_levels(viewer, index):
    run = IndexRun.objects.get(index=index, status="published")

    body = viewer.get(
        api_url("index-metrics", slug="synthetic"), {"range": "max", "kind": "total"}
    ).json()

    assert (body["kind"], body["range"]) == ("total", "max")
    assert body["metrics"]["total_return"] == pytest.approx(
        level_on(119, drift=TOTAL_DRIFT) / 100 - 1, rel=1e-12
    )
    assert body["metrics"]["total_return"] == pytest.approx(
        run.metrics_total["max"]["total_return"], rel=0
    )
    assert body["metrics"]["total_return"] > run.metrics["max"]["total_return"]


def test_metrics_default_to_one_year_and_refuse_other_ranges(viewer, index):
    default = viewer.get(api_url("index-metrics", slug="synthetic")).json()
    assert (default["range"], default["kind"]) == ("1y", "price")

    body = assert_problem(
        viewer.get(api_url("index-metrics", slug="synthetic"), {"range": "2y"}), 400
    )
    assert body["errors"][0]["pointer"] == "#/range"


def test_metrics_of_an_unpublished_index_are_404(viewer):
    published_index_build(slug="draft", publish=False)

    body = assert_problem(viewer.get(api_url("index-metrics", slug="draft")), 404)
    assert "no published run" in body["detail"]


# BENCHMARK


def test_benchmark_is_aligned_by_date_and_rebased_to_the_base_value(viewer, index):
    response = viewer.get(api_url("index-benchmark", slug="synthetic"), {"page_size": 1000})

    assert response.status_code == 200
    rows = response.json()["results"]
    days = trading_days(120)
    common = [
        (number, day)
        for number, day in enumerate(days)
        if number % BENCHMARK_GAP_EVERY != BENCHMARK_GAP_EVERY - 1
    ]
    assert [row["date"] for row in rows] == [day.isoformat() for _, day in common]
    base_close = benchmark_close_on(0)
    for row, (number, _day) in zip(rows, common, strict=True):
        assert row["index_level"] == six(level_on(number))
        expected = (Decimal(100) * benchmark_close_on(number) / base_close).quantize(
            Decimal("0.000001")
        )
        assert row["benchmark_level"] == str(expected)
    assert rows[0]["benchmark_level"] == "100.000000"


def test_benchmark_window_rebases_on_its_first_common_date_on_every_page(viewer, index):
    days = trading_days(120)
    # Day 6 has no benchmark close: the window's first common date is day 7.
    params = {"start": days[6].isoformat(), "end": days[30].isoformat(), "page_size": 3}

    first_page = viewer.get(api_url("index-benchmark", slug="synthetic"), params).json()
    second_page = viewer.get(first_page["next"]).json()

    assert first_page["results"][0]["date"] == days[7].isoformat()
    assert first_page["results"][0]["benchmark_level"] == "100.000000"
    row = second_page["results"][0]
    assert row["date"] == days[10].isoformat()
    expected = Decimal(100) * benchmark_close_on(10) / benchmark_close_on(7)
    assert row["benchmark_level"] == str(expected.quantize(Decimal("0.000001")))


def test_benchmark_of_kind_total_reinvests_the_benchmark_dividends(viewer, index):
    days = trading_days(120)
    # Day 21 has a close (day 20 has none): 2.00 a share goes ex that day.
    Dividend.objects.create(asset=index.benchmark, ex_date=days[21], amount=Decimal("2.00"))

    response = viewer.get(
        api_url("index-benchmark", slug="synthetic"), {"page_size": 1000, "kind": "total"}
    )

    rows = {row["date"]: row for row in response.json()["results"]}
    reinvested = (float(benchmark_close_on(21)) + 2.0) / float(benchmark_close_on(21))
    for number in (0, 19, 21, 22, 119):
        row = rows[days[number].isoformat()]
        growth = float(benchmark_close_on(number)) / float(benchmark_close_on(0))
        expected = 100 * growth * (reinvested if number >= 21 else 1.0)
        assert float(row["benchmark_level"]) == pytest.approx(expected, abs=1e-6)
        assert row["index_level"] == six(level_on(number, drift=TOTAL_DRIFT))
    # The price kind is not affected by the dividend.
    price = viewer.get(api_url("index-benchmark", slug="synthetic"), {"page_size": 1000})
    last = price.json()["results"][-1]
    assert float(last["benchmark_level"]) == pytest.approx(
        100 * float(benchmark_close_on(119)) / float(benchmark_close_on(0)), abs=1e-6
    )


def test_benchmark_of_an_unpublished_index_is_empty(viewer):
    published_index_build(slug="draft", publish=False)

    response = viewer.get(api_url("index-benchmark", slug="draft"))

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_benchmark_of_an_index_without_one_is_404(viewer):
    published_index_build(slug="solo", benchmark=False)

    body = assert_problem(viewer.get(api_url("index-benchmark", slug="solo")), 404)
    assert "no benchmark" in body["detail"]


def test_benchmark_page_is_a_fixed_number_of_queries(viewer, index, django_assert_max_num_queries):
    # auth 2 + pointer + page + base date + the benchmark's closes (4: a savepoint, work_mem,
    # the packed closes, release), splits and dividends; the benchmark close of each row is a
    # correlated subquery of the page
    with django_assert_max_num_queries(AUTH_QUERIES + 9):
        response = viewer.get(api_url("index-benchmark", slug="synthetic"), {"page_size": 100})

    assert len(response.json()["results"]) == 100
