"""Point-in-time recovery on throwaway clusters (never the shared embedded server).

Each cluster is made with the bundled ``initdb`` under a temp dir and reached on a private unix
socket; every server a test starts is stopped in a ``finally``, also when an assertion fails.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command

from core import embedded
from operations.management.commands import pitr_drill
from operations.pitr import (
    BaseBackup,
    LocalServer,
    PitrError,
    RecoveredServer,
    archive_require,
    archive_status,
    base_backup_take,
    base_backups_list,
    local_server_start,
    recovered_server,
    wal_archive_flush,
    wal_archive_prune,
)
from operations.pitr.tools import hand_over, run_tool

pytestmark = pytest.mark.slow  # initdb, base backups and recoveries: ~15 s for the module


def _cluster_init(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    hand_over(data_dir)
    run_tool(
        "initdb",
        ["-D", str(data_dir), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync"],
        timeout_s=120,
        as_server_user=True,
    )


def _archiving(wal_archive_dir: Path) -> dict[str, str]:
    return {
        "archive_mode": "on",
        "archive_command": embedded.archive_command_for(wal_archive_dir),
        "wal_level": "replica",
    }


def _rows(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        return [row[0] for row in conn.execute("SELECT label FROM drill ORDER BY id").fetchall()]


def _write(server: LocalServer, label: str) -> dt.datetime:
    """Insert and commit one row; return the server's clock just after the commit."""
    with server.connect() as conn:
        conn.execute("INSERT INTO drill (label) VALUES (%s)", [label])
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]


@dataclass(frozen=True)
class History:
    """A source cluster with a base backup, then row 1, time T1, row 2, time T2, archived."""

    server: LocalServer
    wal_archive_dir: Path
    base_backup: BaseBackup
    after_first: dt.datetime
    after_second: dt.datetime


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    root = tmp_path_factory.mktemp("pitr")
    wal_archive_dir = root / "wal"
    wal_archive_dir.mkdir()
    hand_over(wal_archive_dir)
    _cluster_init(root / "source")
    server = local_server_start(
        data_dir=root / "source", user="postgres", settings=_archiving(wal_archive_dir)
    )
    try:
        with server.connect() as conn:
            conn.execute("CREATE TABLE drill (id serial PRIMARY KEY, label text NOT NULL)")
        base_backup = base_backup_take(
            conninfo=server.conninfo, target_dir=wal_archive_dir / "base" / "first"
        )
        after_first = _write(server, "first")
        time.sleep(1.1)  # commit timestamps well apart: the target falls clearly between them
        after_second = _write(server, "second")
        # The flush commits once more after T2: recovery to T2 stops at that later commit.
        wal_archive_flush(conninfo=server.conninfo, wal_archive_dir=wal_archive_dir)
        yield History(server, wal_archive_dir, base_backup, after_first, after_second)
    finally:
        server.stop()


def _recovered(
    history: History, target_time: dt.datetime, tmp_path: Path
) -> AbstractContextManager[RecoveredServer]:
    return recovered_server(
        base_backup=history.base_backup,
        wal_archive_dir=history.wal_archive_dir,
        target_time=target_time,
        data_dir=tmp_path / "restored",
    )


def test_recovery_to_a_time_between_two_writes_has_the_first_and_not_the_second(
    history: History, tmp_path: Path
) -> None:
    with _recovered(history, history.after_first, tmp_path) as recovered:
        assert _rows(recovered.conninfo) == ["first"]
        assert recovered.last_transaction_at is not None
    assert not (tmp_path / "restored").exists()
    assert not recovered.server.running()


def test_recovery_to_a_time_after_both_writes_has_both(history: History, tmp_path: Path) -> None:
    with _recovered(history, history.after_second, tmp_path) as recovered:
        assert _rows(recovered.conninfo) == ["first", "second"]


def test_recovered_copy_never_archives_into_the_source_archive(
    history: History, tmp_path: Path
) -> None:
    before = {p.name for p in history.wal_archive_dir.iterdir()}
    with _recovered(history, history.after_first, tmp_path) as recovered:
        assert archive_status(conninfo=recovered.conninfo).enabled is False
        with recovered.server.connect() as conn:
            conn.execute("SELECT pg_switch_wal()")  # the copy's new timeline closes a segment
    assert {p.name for p in history.wal_archive_dir.iterdir()} == before


def test_a_base_backup_is_verified_and_listed(history: History) -> None:
    listed = base_backups_list(history.wal_archive_dir / "base")
    assert [backup.path for backup in listed] == [history.base_backup.path]
    assert history.base_backup.started_at <= history.base_backup.finished_at
    assert (history.base_backup.pgdata / "backup_manifest").is_file()


def test_a_target_before_the_base_backup_is_refused(history: History, tmp_path: Path) -> None:
    too_early = history.base_backup.started_at - dt.timedelta(hours=1)
    with (
        pytest.raises(PitrError, match="before the base backup finished"),
        _recovered(history, too_early, tmp_path),
    ):
        pass


def test_pitr_drill_reports_the_recovered_copy_next_to_the_live_database(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings, capsys
) -> None:
    monkeypatch.setattr(pitr_drill, "live_conninfo", lambda: history.server.conninfo)
    settings.WAL_ARCHIVE_DIR = history.wal_archive_dir
    scratch = tmp_path / "scratch"

    call_command("pitr_drill", "--scratch-dir", str(scratch), "--timeout", "60")

    out, err = capsys.readouterr()
    assert "recovered to " in out
    assert "from base backup first" in out
    assert "latest published run" in out  # the throwaway cluster has no project tables:
    assert "absent" in out  # they are reported as absent, side by side with the live ones
    assert "stopped the recovered server" in err
    assert list(scratch.iterdir()) == []


def test_archive_off_is_one_line_saying_how_to_enable_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cluster_init(tmp_path / "plain")
    server = local_server_start(data_dir=tmp_path / "plain", user="postgres")
    try:
        with pytest.raises(PitrError) as raised:
            archive_require(conninfo=server.conninfo)
        message = str(raised.value)
        assert message.startswith("WAL archiving is off on this server (archive_mode=off")
        assert "python -m core.embedded down, then up" in message
        assert "\n" not in message

        monkeypatch.setattr(pitr_drill, "live_conninfo", lambda: server.conninfo)
        with pytest.raises(CommandError, match=r"^WAL archiving is off on this server"):
            call_command("pitr_drill")
    finally:
        server.stop()
    assert not server.running()


def test_pruning_keeps_the_wal_from_the_oldest_needed_segment_on(tmp_path: Path) -> None:
    names = [
        "000000010000000000000001",
        "000000010000000000000001.00000028.backup",
        "000000010000000000000002",
        "000000010000000000000003.00000028.backup",
        "000000020000000000000003",
        "00000002.history",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "base").mkdir()

    removed = wal_archive_prune(wal_archive_dir=tmp_path, oldest_needed="000000010000000000000003")

    assert removed == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "000000010000000000000003.00000028.backup",
        "00000002.history",
        "000000020000000000000003",
        "base",
    ]


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


def _embedded_stop(data_dir: Path) -> None:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return
    pid = _postmaster_pid(data_dir)
    try:
        os.kill(pid, signal.SIGINT)  # fast shutdown
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def embedded_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("emb")  # short: pgserver's socket lives in the data dir
    try:
        yield data_dir
    finally:
        _embedded_stop(data_dir)


def test_embedded_server_archives_wal_into_its_own_data_dir(embedded_dir: Path) -> None:
    params = embedded.ensure_postgres(embedded_dir, archive_wal=True)
    conninfo = params.url

    assert archive_require(conninfo=conninfo).archive_mode == "on"
    segment = wal_archive_flush(conninfo=conninfo, wal_archive_dir=embedded_dir / "wal-archive")
    assert (embedded_dir / "wal-archive" / segment).is_file()


def test_embedded_server_moves_another_clusters_wal_out_of_its_archive(
    embedded_dir: Path,
) -> None:
    # Given an archive left by an earlier cluster in the same place (its data dir was deleted):
    # its segment names would clash with the new cluster's, and archiving would fail on them
    archive = embedded_dir / "wal-archive"
    archive.mkdir()
    other_cluster = 7000000000000000001
    header = bytes(embedded.WAL_SYSID_OFFSET) + other_cluster.to_bytes(8, sys.byteorder)
    (archive / "000000010000000000000001").write_bytes(header + bytes(64))
    (archive / "base").mkdir()

    params = embedded.ensure_postgres(embedded_dir, archive_wal=True)

    retired = archive / f"retired-{other_cluster}"
    assert sorted(p.name for p in retired.iterdir()) == ["000000010000000000000001", "base"]
    conninfo = params.url
    segment = wal_archive_flush(conninfo=conninfo, wal_archive_dir=archive)
    assert (archive / segment).is_file()


def test_embedded_server_is_not_restarted_under_connected_clients(
    embedded_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a server whose archiving was turned off, and a client connected to it
    params = embedded.ensure_postgres(embedded_dir, archive_wal=True)
    conninfo = params.url
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET archive_mode = off")
    pgdata = embedded_dir / "postgres"
    run_tool(
        "pg_ctl",
        ["-D", str(pgdata), "-w", "-m", "fast", "-l", str(pgdata / "log"), "restart"],
        timeout_s=60,
        as_server_user=True,
    )
    assert archive_status(conninfo=conninfo).archive_mode == "off"
    pid = _postmaster_pid(embedded_dir)

    with psycopg.connect(conninfo) as client, caplog.at_level(logging.WARNING):
        # When the server is ensured while that client is connected
        embedded.ensure_postgres(embedded_dir, archive_wal=True)
        # Then it keeps running, and says archiving waits for the next start
        assert _postmaster_pid(embedded_dir) == pid
        assert client.execute("SELECT 1").fetchone() == (1,)
        assert "needs a restart" in caplog.text

    # And once nobody is connected, it is restarted with archiving on
    embedded.ensure_postgres(embedded_dir, archive_wal=True)
    assert _postmaster_pid(embedded_dir) != pid
    assert archive_status(conninfo=conninfo).archive_mode == "on"
