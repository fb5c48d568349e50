"""Readiness checks' declared dependencies (``/health/ready``, ``core.views``).

An app check that reads Redis marks itself ``@needs("redis")``: while the ``redis`` probe is
down, readiness reports it ``degraded`` ("redis down") without calling it, so a dead or hung
Redis costs one socket timeout (the probe's), not one per check. Every app check needs the
database: none runs while it is down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

NEEDS_ATTRIBUTE = "health_needs"

CheckT = TypeVar("CheckT", bound=Callable[..., object])


def needs(*dependencies: str) -> Callable[[CheckT], CheckT]:
    """Mark a check as needing the core probes ``dependencies`` (``redis``, ``broker``)."""

    def mark(check: CheckT) -> CheckT:
        setattr(check, NEEDS_ATTRIBUTE, dependencies)
        return check

    return mark


def needs_of(check: Callable[..., object]) -> tuple[str, ...]:
    """The probes ``check`` declared it needs (none when unmarked)."""
    return tuple(getattr(check, NEEDS_ATTRIBUTE, ()))
