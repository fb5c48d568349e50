"""Per-group retirement of ``/api/v1`` through django-waffle switches (one per route group).

Each MVP route belongs to one :class:`RouteGroup`; its waffle ``Switch`` is named
``api_v1_<group>`` and created **on** by ``compat/migrations/0001_route_group_switches``.
Switching a group off (admin → Waffle → Switches, or ``manage.py waffle_switch api_v1_auth
off``) makes every route of the group answer 410 with the ``Sunset`` date, without a deploy.
A switch that does not exist counts as off (waffle's ``WAFFLE_SWITCH_DEFAULT``), so deleting
one also retires its group. Waffle caches switches and drops its cache when one is saved.
"""

from __future__ import annotations

from enum import StrEnum

from waffle import switch_is_active

SWITCH_PREFIX = "api_v1_"


class RouteGroup(StrEnum):
    """The route groups of the MVP's API that can be retired one at a time."""

    AUTH = "auth"
    INDEX = "index"
    BENCHMARK = "benchmark"
    STRATEGY = "strategy"
    TASKS = "tasks"  # tasks/refresh, background/*, manual/*
    DIAGNOSTICS = "diagnostics"


def switch_name(group: RouteGroup) -> str:
    """The waffle switch of ``group``: ``api_v1_auth``, ``api_v1_index``, …"""
    return f"{SWITCH_PREFIX}{group.value}"


def group_is_served(group: RouteGroup) -> bool:
    """True while ``group``'s switch is on (one cached read; no query on a warm cache)."""
    return bool(switch_is_active(switch_name(group)))
