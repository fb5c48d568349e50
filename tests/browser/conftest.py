"""Browser tests: Debian's Chromium driven by Selenium against a live server of the app.

They skip, saying why, where no browser can be had (``.ci/run`` installs ``chromium`` and
``chromium-driver``) and where the charting library is not installed (``make install`` runs
npm). Screenshots go to ``$TEST_OUTPUT_DIR/browser`` (default ``.test-output/browser``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.browser

OUTPUT_DIR = Path(os.environ.get("TEST_OUTPUT_DIR", ".test-output")) / "browser"


def _browser_paths() -> tuple[str, str] | None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        return None
    return binary, driver


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless Chromium (1400×1000); skips with the reason when none can be had."""
    paths = _browser_paths()
    if paths is None:
        pytest.skip("no browser: install Debian's chromium and chromium-driver (.ci/run does)")
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = paths
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except WebDriverException as error:  # the binary is there but cannot start
        pytest.skip(f"chromium could not start: {error}")
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def charts_available() -> None:
    if not settings.CHARTS_AVAILABLE:
        pytest.skip("no charting library: npm was not available to `make install`")


@pytest.fixture
def screenshot(browser: object) -> Callable[[str], Path]:
    """``screenshot("index-page")`` writes ``<output>/index-page.png`` and returns its path."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = OUTPUT_DIR / f"{name}.png"
        browser.save_screenshot(str(path))
        return path

    return take
