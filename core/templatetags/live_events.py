"""``{% live_events_url %}``: where the admin pages open the live event stream.

``STREAM_PUBLIC_URL`` + the events path when the stream process has its own public address,
else the path alone (same origin). docs/events.md.
"""

from __future__ import annotations

from django import template
from django.conf import settings

register = template.Library()

EVENTS_PATH = "/api/v2/events/"


@register.simple_tag
def live_events_url() -> str:
    return f"{settings.STREAM_PUBLIC_URL}{EVENTS_PATH}"
