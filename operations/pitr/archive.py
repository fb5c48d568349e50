"""WAL archiving of a source server: is it on, and is the WAL up to now in the archive?

Works against any PostgreSQL whose ``archive_command`` copies segments into a local folder (the
embedded server does, see ``core.embedded``). Needs a role that may call ``pg_switch_wal()``
(a superuser, or one granted it).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from operations.pitr.tools import PitrError, fetch_one, run_tool

WAL_SEGMENT_NAME = re.compile(r"^[0-9A-F]{24}$")
ARCHIVE_POLL_S = 0.2
ARCHIVE_OFF_HINT = (
    "the embedded server enables it itself when it starts with nobody connected "
    "(python -m core.embedded down, then up); any other server needs archive_mode = on and an "
    "archive_command copying into WAL_ARCHIVE_DIR (docs/operations.md)"
)


@dataclass(frozen=True)
class ArchiveStatus:
    """The source server's archiving settings and the archiver's counters (pg_stat_archiver)."""

    archive_mode: str
    archive_command: str
    wal_level: str
    archived_count: int
    last_archived_wal: str | None
    failed_count: int
    last_failed_wal: str | None

    @property
    def enabled(self) -> bool:
        return (
            self.archive_mode in {"on", "always"}
            and self.wal_level != "minimal"
            and self.archive_command not in {"", "(disabled)"}
        )


def archive_status(*, conninfo: str) -> ArchiveStatus:
    """Read the archiving settings and counters; a fresh statistics snapshot each call."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings "
                "WHERE name IN ('archive_mode', 'archive_command', 'wal_level')"
            ).fetchall()
        )
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = fetch_one(
            conn,
            "SELECT archived_count, last_archived_wal, failed_count, last_failed_wal "
            "FROM pg_stat_archiver",
        )
    return ArchiveStatus(
        archive_mode=settings.get("archive_mode", "off"),
        archive_command=settings.get("archive_command", ""),
        wal_level=settings.get("wal_level", "replica"),
        archived_count=int(row[0]),
        last_archived_wal=row[1],
        failed_count=int(row[2]),
        last_failed_wal=row[3],
    )


def archive_require(*, conninfo: str) -> ArchiveStatus:
    """The archive status, or ``PitrError`` (one line saying how to enable it) when it is off."""
    status = archive_status(conninfo=conninfo)
    if not status.enabled:
        raise PitrError(
            f"WAL archiving is off on this server (archive_mode={status.archive_mode}, "
            f"wal_level={status.wal_level}): {ARCHIVE_OFF_HINT}"
        )
    return status


def wal_archive_flush(*, conninfo: str, wal_archive_dir: Path, timeout_s: float = 60.0) -> str:
    """Make every commit up to now reach ``wal_archive_dir``; return the last segment's name.

    First commits an empty transaction (an xid, no rows): recovery to a target time stops at the
    first commit *after* the target, so one must exist past any target up to now. Then
    ``pg_switch_wal()`` closes the current segment, and this waits until the archive holds it in
    full (the archiver copies it asynchronously). Raises ``PitrError`` at once when the archiver
    reports that segment as failed, and after ``timeout_s`` otherwise.
    """
    before = archive_require(conninfo=conninfo)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_current_xact_id()")
        (segment,) = fetch_one(conn, "SELECT pg_walfile_name(pg_switch_wal())")
        (segment_size,) = fetch_one(
            conn, "SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'"
        )
    archived = wal_archive_dir / segment
    deadline = time.monotonic() + timeout_s
    while True:
        # cp writes the file front to back: full size means the copy is complete.
        if archived.is_file() and archived.stat().st_size == segment_size:
            return segment
        status = archive_status(conninfo=conninfo)
        if status.failed_count > before.failed_count and status.last_failed_wal == segment:
            raise PitrError(
                f"archive_command fails for WAL segment {segment} (see the server log; a file of "
                f"that name already in {wal_archive_dir} from another cluster makes it fail)"
            )
        if time.monotonic() > deadline:
            raise PitrError(
                f"WAL segment {segment} did not reach {wal_archive_dir} within {timeout_s:g} s "
                f"(archiver: last archived {status.last_archived_wal or 'none'}, last failed "
                f"{status.last_failed_wal or 'none'}); does archive_command copy into that folder?"
            )
        time.sleep(ARCHIVE_POLL_S)


def wal_archive_segments(wal_archive_dir: Path) -> list[str]:
    """Names of the WAL segments in the archive, oldest first."""
    if not wal_archive_dir.is_dir():
        return []
    return sorted(p.name for p in wal_archive_dir.iterdir() if WAL_SEGMENT_NAME.match(p.name))


def wal_archive_prune(*, wal_archive_dir: Path, oldest_needed: str) -> int:
    """Delete archived WAL older than segment ``oldest_needed``; return how many files went.

    ``oldest_needed`` is the start segment of the oldest base backup kept: nothing before it can
    be replayed onto any kept backup. ``pg_archivecleanup`` removes the older segments (of every
    timeline: it compares the log/segment part of the name only); the backup history files of
    older backups (``<segment>.<offset>.backup``, which it leaves) go by the same rule. Timeline
    history files and sub-folders are left alone.
    """
    if not WAL_SEGMENT_NAME.match(oldest_needed):
        raise PitrError(f"not a WAL segment name: {oldest_needed!r}")
    before = {p.name for p in wal_archive_dir.iterdir()}
    run_tool("pg_archivecleanup", [str(wal_archive_dir), oldest_needed], timeout_s=300)
    for history in wal_archive_dir.glob("*.backup"):
        segment = history.name.split(".", 1)[0]
        if WAL_SEGMENT_NAME.match(segment) and segment[8:] < oldest_needed[8:]:
            history.unlink()
    return len(before - {p.name for p in wal_archive_dir.iterdir()})
