"""psycopg and Redis spans cost a wrapper per query and cache call: recorded only where a
process exports, unless forced (``TRACING_CLIENT_SPANS``)."""

from __future__ import annotations

import pytest

from core.tracing import _client_spans


@pytest.mark.parametrize(
    ("mode", "exporting", "instrumented"),
    [
        ("auto", False, False),
        ("auto", True, True),
        ("on", False, True),
        ("off", True, False),
    ],
)
def test_client_spans_follow_the_setting_and_whether_the_process_exports(
    settings, mode, exporting, instrumented
):
    settings.TRACING_CLIENT_SPANS = mode

    assert _client_spans(exporting=exporting) is instrumented
