"""The admin's job console in Chromium: an analyst sees the missing-market-cap warning go once
the caps are set, the Asset page charts its closes with the revision marked, a refresh run's
page and the Index page follow their jobs without a reload ("Recompute now" ends in a new
published run, computed here from the queued task)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from market.models import Asset, MarketCap, Price, PriceRevision, RefreshRun
from portfolio.models import Index, IndexRun
from portfolio.tasks import compute_index
from tests.factories import TEST_PASSWORD, AnalystFactory, RefreshRunFactory
from tests.portfolio.published import published_index_build

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# The page polls every 2 s; a loaded 2-core machine gets a few polls' slack.
UPDATE_SECONDS = 15


def _sign_in(browser, live_server) -> None:
    analyst = AnalystFactory(is_staff=True, email="analyst@example.com")
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.ID, "id_username").send_keys(analyst.email)
    browser.find_element(By.ID, "id_password").send_keys(TEST_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda driver: "/admin/login/" not in driver.current_url)


def _mark_page(browser) -> None:
    """Set a flag a reload would lose: the page must update itself."""
    browser.execute_script("window.autoindexNotReloaded = true;")


def _not_reloaded(browser) -> bool:
    return browser.execute_script("return window.autoindexNotReloaded === true;")


def _box_state(browser, selector: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, selector).get_attribute("data-state")


def test_the_missing_market_cap_warning_goes_once_the_caps_are_set(
    browser, live_server, screenshot
):
    index = published_index_build(slug="alpha", assets=3)
    symbols = sorted(index.universe.values_list("symbol", flat=True))
    _sign_in(browser, live_server)
    url = f"{live_server.url}/admin/portfolio/index/{index.pk}/change/"

    browser.get(url)

    warnings = browser.find_element(By.ID, "index-warnings").text
    assert (
        f"No market cap for 3 of 3 assets ({', '.join(symbols)}): the market-cap component is"
        " equal weight for them."
    ) in warnings
    screenshot("index-warnings")
    browser.get(f"{live_server.url}/admin/")
    assert "No market cap for 3 of 3 assets" in browser.find_element(By.ID, "data-warnings").text

    for symbol in symbols:
        MarketCap.objects.create(
            asset=Asset.objects.get(symbol=symbol), as_of=dt.date(2020, 1, 2), value=10**10
        )
    browser.get(url)

    assert "No market cap" not in browser.find_element(By.ID, "content").text
    browser.get(f"{live_server.url}/admin/")
    home_warnings = browser.find_elements(By.ID, "data-warnings")
    assert all("Alpha Index" not in element.text for element in home_warnings)


def test_the_asset_page_charts_its_closes_with_the_revision_marked(
    charts_available, browser, live_server, screenshot
):
    asset = Asset.objects.get(symbol="AAPL")
    first = dt.date(2024, 1, 1)
    Price.objects.bulk_create(
        [
            Price(asset=asset, date=first + dt.timedelta(days=day), close=Decimal(150 + day % 7))
            for day in range(60)
        ]
    )
    PriceRevision.objects.create(
        asset=asset, date=dt.date(2024, 1, 20), old_close=Decimal("149"), new_close=Decimal("155")
    )
    _sign_in(browser, live_server)

    browser.get(f"{live_server.url}/admin/market/asset/{asset.pk}/change/")

    WebDriverWait(browser, 10).until(
        lambda driver: (
            driver.execute_script(
                "var canvas = document.getElementById('chart-asset-close');"
                "return canvas && canvas.getAttribute('data-points');"
            )
            == "60"
        )
    )
    drawn = browser.execute_script(
        "var chart = Chart.getChart(document.getElementById('chart-asset-close'));"
        "return chart.data.datasets.map(function (set) { return set.data.length; });"
    )
    assert drawn == [60, 1]
    revision = browser.execute_script(
        "return Chart.getChart(document.getElementById('chart-asset-close'))"
        ".data.datasets[1].data[0];"
    )
    assert (revision["x"], revision["y"], revision["old"]) == ("2024-01-20", 155, 149)
    assert browser.find_element(By.ID, "asset-refresh-now").is_displayed()
    screenshot("asset-page")


def test_a_refresh_run_page_follows_its_run_without_a_reload(browser, live_server, screenshot):
    run = RefreshRunFactory(status=RefreshRun.Status.RUNNING, symbols_total=8, symbols_done=3)
    _sign_in(browser, live_server)
    browser.get(f"{live_server.url}/admin/market/refreshrun/{run.pk}/change/")
    _mark_page(browser)
    assert "3 / 8 symbols" in browser.find_element(By.CSS_SELECTOR, ".job-state").text

    RefreshRun.objects.filter(pk=run.pk).update(symbols_done=6)
    WebDriverWait(browser, UPDATE_SECONDS).until(
        lambda driver: "6 / 8 symbols" in driver.find_element(By.CSS_SELECTOR, ".job-state").text
    )
    RefreshRun.objects.filter(pk=run.pk).update(
        status=RefreshRun.Status.SUCCEEDED, symbols_done=8, finished_at=run.started_at
    )
    WebDriverWait(browser, UPDATE_SECONDS).until(
        lambda driver: _box_state(driver, ".job-state") == "succeeded"
    )

    assert _not_reloaded(browser)
    assert "8 / 8 symbols (100 %)" in browser.find_element(By.CSS_SELECTOR, ".job-state").text
    screenshot("refresh-run-page")


@pytest.mark.slow
def test_recompute_now_shows_the_new_run_published_without_a_reload(
    browser, live_server, task_queue, screenshot
):
    call_command("load_demo_data", verbosity=0)
    index = Index.objects.get(slug="autoindex")
    before = set(IndexRun.objects.filter(index=index).values_list("pk", flat=True))
    _sign_in(browser, live_server)
    browser.get(f"{live_server.url}/admin/portfolio/index/{index.pk}/change/")

    browser.find_element(By.ID, "index-recompute-now").click()
    WebDriverWait(browser, 10).until(lambda driver: "?queued=" in driver.current_url)
    assert (
        "Recompute of autoindex queued."
        in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    )
    assert _box_state(browser, "#index-job .job-state") == "queued"
    _mark_page(browser)

    # A worker takes the queued task: here, this thread runs it from the broker's message.
    [(name, kwargs)] = task_queue.tasks()
    task_queue.clear()
    assert name == "portfolio.tasks.compute_index"
    result = compute_index.apply(kwargs=kwargs).get()

    WebDriverWait(browser, UPDATE_SECONDS).until(
        lambda driver: _box_state(driver, "#index-job .job-state") == "published"
    )
    [new_run] = IndexRun.objects.filter(index=index).exclude(pk__in=before)
    assert (new_run.pk, new_run.status) == (result["run_id"], "published")
    box = browser.find_element(By.CSS_SELECTOR, "#index-job .job-state").text
    assert f"Latest run #{new_run.pk}: published" in box
    assert f"Data through {new_run.data_through.isoformat()}" in box
    assert _not_reloaded(browser)


def test_an_index_page_at_rest_follows_a_new_run_announced_by_the_event_stream(
    browser, live_server
):
    index = published_index_build(slug="alpha", assets=2)
    _sign_in(browser, live_server)
    browser.get(f"{live_server.url}/admin/portfolio/index/{index.pk}/change/")
    assert _box_state(browser, "#index-job .job-state") == "published"
    assert (
        browser.find_element(By.CSS_SELECTOR, "#index-job .job-state").get_attribute("data-active")
        == "0"
    )  # at rest: nothing polls
    _mark_page(browser)

    # The nightly chain starts a run; the stream announces it as a DOM event on the page.
    run = IndexRun.objects.create(index=index, trigger=IndexRun.Trigger.REFRESH)
    browser.execute_script(
        "document.dispatchEvent(new CustomEvent('autoindex:event', {detail: {type:"
        " 'index_run.progress', id: '1-0', data: {run_id: arguments[0], index: 'alpha',"
        " status: 'running'}}}));",
        run.pk,
    )

    WebDriverWait(browser, UPDATE_SECONDS).until(
        lambda driver: _box_state(driver, "#index-job .job-state") == "running"
    )
    box = browser.find_element(By.CSS_SELECTOR, "#index-job .job-state")
    assert f"Latest run #{run.pk}: running" in box.text
    assert box.get_attribute("data-active") == "1"
    assert _not_reloaded(browser)
