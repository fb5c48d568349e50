"""The browser itself: Chromium renders the admin login page served by a live server."""

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_admin_login_page_renders(browser, live_server, screenshot) -> None:
    browser.get(f"{live_server.url}/admin/login/")
    assert browser.find_element("id", "id_username").is_displayed()
    assert screenshot("admin-login").stat().st_size > 0
