"""One JSON line per fault scenario into ``FAULT_MATRIX_FILE`` (when set), for the issue's
fault matrix: ``{"scenario", "expected", "observed", "seconds"}``."""

from __future__ import annotations

import json
import os
from pathlib import Path


def fault_record(scenario: str, *, expected: str, observed: str, seconds: float) -> None:
    """Append the scenario's outcome to ``FAULT_MATRIX_FILE``; nothing when it is unset."""
    matrix_file = os.environ.get("FAULT_MATRIX_FILE")
    if not matrix_file:
        return
    entry = {
        "scenario": scenario,
        "expected": expected,
        "observed": observed,
        "seconds": round(seconds, 3),
    }
    with Path(matrix_file).open("a") as matrix:
        matrix.write(json.dumps(entry) + "\n")
