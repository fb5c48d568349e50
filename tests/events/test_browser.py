"""Chromium on an admin page: live-events.js opens the stream and re-dispatches each event the
staff member may see as an ``autoindex:event`` DOM event (the contract pages listen to)."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from core.events import publish_event
from tests.browser.conftest import browser  # noqa: F401 - the fixture
from tests.factories import TEST_PASSWORD, ViewerFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_admin_pages_redispatch_the_events_a_viewer_may_see(browser, live_server, settings):  # noqa: F811
    settings.EVENTS_WSGI_MAX_SECONDS = 3.0  # the live server is WSGI: bounded, then resumed
    staff = ViewerFactory(is_staff=True, is_superuser=False, email="staff@example.com")
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.ID, "id_username").send_keys(staff.email)
    browser.find_element(By.ID, "id_password").send_keys(TEST_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda driver: "/admin/login/" not in driver.current_url)
    browser.execute_script(
        "window.autoindexSeen = [];"
        "document.addEventListener('autoindex:event', (e) => window.autoindexSeen.push(e.detail));"
    )
    WebDriverWait(browser, 10).until(
        lambda driver: (
            driver.execute_script("return document.documentElement.dataset.liveEvents;") == "open"
        )
    )
    # A margin: the stream says it is open once its start position is fixed.
    time.sleep(0.5)

    publish_event("refresh.progress", {"run_id": 1}, audience="analyst")  # not for a viewer
    publish_event("index_run.published", {"run_id": 5, "index": "autoindex", "last_level": 101.5})
    seen = WebDriverWait(browser, 15).until(
        lambda driver: driver.execute_script("return window.autoindexSeen;") or None
    )
    assert len(seen) == 1
    assert seen[0]["type"] == "index_run.published"
    assert seen[0]["data"] == {"run_id": 5, "index": "autoindex", "last_level": 101.5}
    first_id = seen[0]["id"]
    assert first_id

    # After the bounded WSGI stream ends the browser reconnects with Last-Event-ID: an event
    # published in the gap arrives once, the first is not repeated.
    time.sleep(3.5)
    publish_event("index_run.published", {"run_id": 6, "index": "autoindex", "last_level": 102})
    WebDriverWait(browser, 15).until(
        lambda driver: len(driver.execute_script("return window.autoindexSeen;")) >= 2
    )
    time.sleep(1)
    seen = browser.execute_script("return window.autoindexSeen;")
    assert [item["data"]["run_id"] for item in seen] == [5, 6]
