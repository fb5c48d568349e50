"""Prices are never deleted: no statement or ORM call in the code base removes price rows.

The MVP emptied the table before every refresh; a refresh now only inserts and updates. This
test keeps it that way by reading every Python file of the project.
"""

import re
from pathlib import Path

from django.conf import settings

FORBIDDEN = (
    re.compile(r"DELETE\s+FROM\s+market_price\b", re.IGNORECASE),
    re.compile(r"TRUNCATE\s+(TABLE\s+)?market_price\b", re.IGNORECASE),
    re.compile(r"\bPrice\.(all_)?objects\b[^\n]*\.delete\("),
    re.compile(r"\.prices\.[^\n]*\.delete\("),
)
SKIPPED_DIRS = {".venv", ".data", "node_modules", ".git"}


def test_no_code_deletes_prices():
    root = Path(settings.BASE_DIR)
    this_file = Path(__file__).resolve()
    offenders = []
    for path in root.rglob("*.py"):
        if SKIPPED_DIRS & set(path.relative_to(root).parts) or path.resolve() == this_file:
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [
            f"{path.relative_to(root)}: {match.group(0)}"
            for pattern in FORBIDDEN
            for match in pattern.finditer(text)
        ]
    assert offenders == []
