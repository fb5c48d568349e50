"""Template tags of the admin's job console (the data warnings on the admin home)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag
def admin_data_warnings() -> list[dict[str, Any]]:
    """``{% admin_data_warnings as warnings %}``: ``portfolio.admin_jobs.admin_home_warnings``."""
    from portfolio.admin_jobs import admin_home_warnings  # the admin module, loaded on demand

    return admin_home_warnings()
