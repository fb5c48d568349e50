"""What the backup commands share: a phase progress bar on stderr, one-line errors, sizes.

Not a command (the leading underscore keeps Django from listing it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.template.defaultfilters import filesizeformat
from tqdm import tqdm

from operations.backups import BackupError


@contextmanager
def phase_bar(
    phases: Sequence[str], *, desc: str, verbosity: int
) -> Iterator[Callable[[str], None]]:
    """A tqdm bar over ``phases`` on stderr; yields the ``progress`` callback of the services."""
    with tqdm(
        total=len(phases), desc=desc, unit="phase", file=sys.stderr, disable=verbosity == 0
    ) as bar:
        started: list[str] = []

        def progress(phase: str) -> None:
            if started:
                bar.update(1)
            started.append(phase)
            bar.set_postfix_str(phase)

        yield progress
        bar.update(bar.total - bar.n)


@contextmanager
def one_line_errors(action: str) -> Iterator[None]:
    """Turn any failure into ``CommandError``: one readable line and exit status 1."""
    try:
        yield
    except CommandError:
        raise
    except (BackupError, ImproperlyConfigured) as error:
        raise CommandError(str(error)) from error
    except Exception as error:
        raise CommandError(f"{action} failed: {type(error).__name__}: {error}") from error


def size_text(size_bytes: int | None) -> str:
    if size_bytes is None:
        return "n/a"
    return f"{filesizeformat(size_bytes)} ({size_bytes} bytes)"


def seconds_text(seconds: dict[str, float]) -> str:
    phases = ", ".join(f"{phase} {value:.2f}" for phase, value in seconds.items())
    return f"{sum(seconds.values()):.2f} s ({phases})"


def table(rows: Sequence[tuple[str, Any]]) -> str:
    """``label  value`` lines, labels aligned."""
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label.ljust(width)}  {value}" for label, value in rows)
