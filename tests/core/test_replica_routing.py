"""Read replica: published reads go to a real streaming standby, the rest to the primary.

The standby is a real one: ``core.embedded.ensure_replica`` takes a base backup of the test
PostgreSQL (``pg_basebackup -R``) and starts it on its own socket, once per session. Each test
adds the ``replica`` alias pointing at it (the test database, mirrored like
``TEST.MIRROR = "default"`` would) and removes it afterwards, so no other test ever routes to it.
Data must be committed to reach the standby: the tests are transactional.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import ANY

import psycopg
import pytest
from django.core.cache import caches
from django.db import connections
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from config.settings.base import database_settings
from core import embedded
from core.db_router import WROTE_AT_KEY
from core.replica import REPLICA, replica_state_forget
from tests.api.conftest import api_url, bearer
from tests.factories import AnalystFactory, AssetFactory, ViewerFactory

pytestmark = pytest.mark.django_db(
    transaction=True, serialized_rollback=True, databases=["default", REPLICA]
)

# The standby replays the WAL of every concurrent test run on the shared server, on a busy machine.
CATCH_UP_TIMEOUT_S = 90.0
ASSET_TABLE = "market_asset"


@dataclass
class StreamingReplica:
    """The session's standby of the test PostgreSQL."""

    primary: embedded.PostgresParams
    data_dir: Path
    params: embedded.PostgresParams

    def start(self) -> None:
        embedded.ensure_replica(self.primary, self.data_dir)

    def stop(self) -> None:
        embedded.stop_replica(self.data_dir)

    def _connect(self, params: embedded.PostgresParams) -> psycopg.Connection:
        return psycopg.connect(
            host=params.host, port=params.port, user=params.user, dbname="postgres", autocommit=True
        )

    def caught_up(self) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        with self._connect(self.primary) as primary:
            row = primary.execute("SELECT pg_current_wal_lsn()").fetchone()
        assert row is not None
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        with self._connect(self.params) as standby:
            while True:
                replayed = standby.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [row[0]]
                ).fetchone()
                if replayed and replayed[0]:
                    return
                assert time.monotonic() < deadline, self._why_behind(standby, row[0])
                time.sleep(0.05)

    def _why_behind(self, standby: psycopg.Connection, target: str) -> str:
        state = standby.execute(
            "SELECT pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(), "
            "pg_is_wal_replay_paused(), (SELECT status FROM pg_stat_wal_receiver)"
        ).fetchone()
        log_lines = (self.data_dir / "log").read_text(errors="replace").splitlines()[-5:]
        return f"the standby did not reach {target}: {state}; log: {log_lines}"

    def replay_pause(self) -> None:
        with self._connect(self.params) as standby:
            standby.execute("SELECT pg_wal_replay_pause()")

    def replay_resume(self) -> None:
        with self._connect(self.params) as standby:
            standby.execute("SELECT pg_wal_replay_resume()")


@pytest.fixture(scope="session")
def streaming_replica(
    django_db_setup, django_db_blocker, tmp_path_factory
) -> Iterator[StreamingReplica]:
    if os.environ.get("DATABASE_URL"):
        pytest.skip("the replica tests copy the embedded PostgreSQL (DATABASE_URL is set)")
    if not embedded.replica_supported():
        pytest.skip("pg_basebackup/pg_ctl not found: install the pgserver wheel")
    default = connections["default"].settings_dict
    primary = embedded.PostgresParams(
        host=default["HOST"], port=int(default["PORT"]), user=default["USER"], name=default["NAME"]
    )
    # Not under pytest's basetemp: a concurrent pytest run resets its root folder to 0700, and
    # the server's OS user (pgserver, when we are root) must keep traversing to its data.
    data_dir = Path(tempfile.mkdtemp(prefix="autoindex-replica-")) / "pgdata"
    replica = StreamingReplica(
        primary=primary, data_dir=data_dir, params=embedded.replica_params(primary, data_dir)
    )
    try:
        replica.start()
        yield replica
    finally:
        replica.stop()
        shutil.rmtree(data_dir.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def replica_alias(streaming_replica) -> Iterator[None]:
    """The ``replica`` alias on the standby, for this module's tests only.

    Module-scoped so that it exists before pytest-django sets up each test (its ``databases``
    must name it), and is gone before any other module's test runs.
    """
    default = connections["default"].settings_dict
    config = database_settings(
        {
            "NAME": default["NAME"],  # the test database, streamed like every other
            "USER": streaming_replica.params.user,
            "HOST": streaming_replica.params.host,
            "PORT": streaming_replica.params.port,
        }
    )
    config["TEST"] = {"MIRROR": "default"}
    configured = connections.configure_settings({"default": default, REPLICA: config})
    connections.settings[REPLICA] = configured[REPLICA]
    try:
        yield
    finally:
        connections[REPLICA].close()
        connections[REPLICA].close_pool()
        del connections[REPLICA]
        del connections.settings[REPLICA]


@pytest.fixture
def replica(streaming_replica, replica_alias, settings) -> Iterator[StreamingReplica]:
    """The running, replaying standby; its state probed afresh at every request."""
    streaming_replica.start()  # a test before may have stopped it
    streaming_replica.replay_resume()
    settings.DATABASE_REPLICA_CHECK_SECONDS = 0.0
    replica_state_forget()
    try:
        yield streaming_replica
    finally:
        replica_state_forget()
        if embedded.replica_answers(streaming_replica.params):
            streaming_replica.replay_resume()


def fallbacks(reason: str) -> float:
    return (
        REGISTRY.get_sample_value("autoindex_db_replica_fallbacks_total", {"reason": reason}) or 0
    )


class QueryLog:
    """The queries run on one alias (an execute wrapper: it opens no connection)."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)

    def on(self, table: str) -> int:
        """How many of the queries read ``table``."""
        return sum(f'"{table}"' in sql for sql in self.sql)


def _get(client_headers: dict[str, str], name: str, **kwargs: object):
    """GET a v2 route as the client; the response and the asset queries run on each alias.

    Only the route's own queries are counted: authentication may read the user wherever (and
    whenever) its own cache says.
    """
    client = APIClient()
    client.credentials(**client_headers)
    on_primary, on_replica = QueryLog(), QueryLog()
    with (
        connections["default"].execute_wrapper(on_primary),
        connections[REPLICA].execute_wrapper(on_replica),
    ):
        response = client.get(api_url(name, **kwargs))
    return response, on_primary.on(ASSET_TABLE), on_replica.on(ASSET_TABLE)


def _symbols(response) -> list[str]:
    return [row["symbol"] for row in response.json()["results"]]


def test_a_published_read_is_served_by_the_standby(replica):
    AssetFactory(symbol="ZRA")
    viewer = ViewerFactory()
    replica.caught_up()

    response, on_primary, on_replica = _get(bearer(viewer), "asset-list")

    assert response.status_code == 200
    assert "ZRA" in _symbols(response)
    assert (on_primary, on_replica >= 1) == (0, True)  # the page (and its count)
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone() == (True,)


def test_a_read_after_a_write_by_the_same_user_goes_to_the_primary(replica, settings):
    analyst, viewer = AnalystFactory(), ViewerFactory()
    replica.caught_up()

    writer = APIClient()
    writer.credentials(**bearer(analyst))
    # The standby receives the write but does not replay it: a read from it misses the asset.
    replica.replay_pause()
    created = writer.post(
        api_url("asset-list"), {"symbol": "zrw", "asset_class": "equity"}, format="json"
    )
    assert created.status_code == 201

    own_read, own_on_primary, own_on_replica = _get(bearer(analyst), "asset-list")
    other_read, other_on_primary, other_on_replica = _get(bearer(viewer), "asset-list")

    assert "ZRW" in _symbols(own_read)
    assert (own_on_primary >= 1, own_on_replica) == (True, 0)
    assert "ZRW" not in _symbols(other_read)  # another client reads the (paused) standby
    assert (other_on_primary, other_on_replica >= 1) == (0, True)
    assert caches["strict"].get(WROTE_AT_KEY.format(client=f"user:{analyst.pk}")) is not None


def test_the_read_your_writes_window_ends(replica, settings):
    settings.DATABASE_READ_YOUR_WRITES_SECONDS = 1
    analyst = AnalystFactory()

    writer = APIClient()
    writer.credentials(**bearer(analyst))
    assert (
        writer.post(
            api_url("asset-list"), {"symbol": "zrx", "asset_class": "equity"}, format="json"
        ).status_code
        == 201
    )
    replica.caught_up()
    time.sleep(1.2)

    response, on_primary, on_replica = _get(bearer(analyst), "asset-list")

    assert "ZRX" in _symbols(response)
    assert (on_primary, on_replica >= 1) == (0, True)


def test_routes_outside_the_replica_safe_list_use_the_primary(replica):
    AssetFactory(symbol="ZRP")
    viewer = ViewerFactory()
    replica.caught_up()

    # An asset's prices are not in REPLICA_SAFE_READS: the primary, for a client that never wrote.
    response, on_primary, on_replica = _get(bearer(viewer), "asset-prices", symbol="ZRP")

    assert response.status_code == 200
    assert (on_primary, on_replica) == (1, 0)  # the asset looked up by its symbol


def test_reads_fall_back_to_the_primary_when_the_standby_is_stopped(replica):
    AssetFactory(symbol="ZRS")
    viewer = ViewerFactory()
    replica.stop()
    before = fallbacks("down")

    response, on_primary, on_replica = _get(bearer(viewer), "asset-list")

    assert response.status_code == 200
    assert "ZRS" in _symbols(response)
    assert (on_primary >= 1, on_replica) == (True, 0)
    assert fallbacks("down") == before + 1


def test_a_standby_stopped_between_two_probes_is_caught_at_the_first_read(replica, settings):
    settings.DATABASE_REPLICA_CHECK_SECONDS = 3600.0  # the last probe said "usable"
    viewer = ViewerFactory()
    replica.caught_up()
    assert _get(bearer(viewer), "asset-list")[2] >= 1
    replica.stop()
    before = fallbacks("down")

    response, on_primary, on_replica = _get(bearer(viewer), "asset-list")
    again, _, again_on_replica = _get(bearer(viewer), "asset-list")

    assert (response.status_code, again.status_code) == (200, 200)
    assert (on_primary >= 1, on_replica, again_on_replica) == (True, 0, 0)
    assert fallbacks("down") == before + 2  # the failed connection, then the remembered "down"


def test_reads_fall_back_when_the_standby_lags_beyond_the_threshold(replica, settings):
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 0.5
    viewer = ViewerFactory()
    replica.caught_up()
    replica.replay_pause()
    time.sleep(1.0)  # the last transaction the standby replayed is now over a second old
    AssetFactory(symbol="ZRL")  # received by the standby, not replayed
    before = fallbacks("lagging")

    response, on_primary, on_replica = _get(bearer(viewer), "asset-list")

    assert "ZRL" in _symbols(response)
    assert (on_primary >= 1, on_replica) == (True, 0)
    assert fallbacks("lagging") == before + 1
    lag = REGISTRY.get_sample_value("autoindex_db_replica_lag_seconds")
    assert lag is not None
    assert lag >= 1.0


def test_readiness_reports_a_lagging_standby_as_degraded_never_503(replica, settings, client):
    settings.HEALTH_READY_CHECKS = {"database_replica": "core.replica_health.replica_lag"}
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 0.5
    replica.caught_up()

    healthy = client.get("/health/ready").json()["details"]["database_replica"]
    replica.replay_pause()
    time.sleep(1.0)
    AssetFactory(symbol="ZRH")
    lagging = client.get("/health/ready")
    replica.stop()
    stopped = client.get("/health/ready")

    # Other test runs write to the same server: the standby may be replaying, a few ms behind.
    assert (healthy["status"], healthy["max_lag_seconds"]) == ("ok", 0.5)
    assert 0 <= healthy["lag_seconds"] < 0.5
    assert lagging.status_code == 200
    assert lagging.json()["checks"]["database_replica"] == "degraded"
    assert lagging.json()["details"]["database_replica"]["reason"] == (
        "lagging: the replica lags behind the primary, reads use the primary"
    )
    assert stopped.status_code == 200
    assert stopped.json()["details"]["database_replica"] == {
        "status": "degraded",
        "lag_seconds": None,
        "max_lag_seconds": 0.5,
        "reason": "down: the replica does not answer, reads use the primary",
    }
    assert REGISTRY.get_sample_value("autoindex_db_replica_up") == 0


def test_ensure_replica_reuses_a_running_standby_and_restarts_a_stopped_one(streaming_replica):
    pid_file = streaming_replica.data_dir / "postmaster.pid"
    streaming_replica.start()
    running_pid = pid_file.read_text().split()[0]

    streaming_replica.start()
    reused_pid = pid_file.read_text().split()[0]
    streaming_replica.stop()
    stopped = embedded.replica_answers(streaming_replica.params)
    streaming_replica.start()

    assert reused_pid == running_pid
    assert stopped is False
    assert embedded.replica_answers(streaming_replica.params) is True
    # A restarted standby answers before its WAL receiver has connected again: wait for it.
    deadline = time.monotonic() + 30.0
    while (
        embedded.replica_status(streaming_replica.primary, streaming_replica.data_dir)[
            "wal_receiver"
        ]
        != "streaming"
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert embedded.replica_status(streaming_replica.primary, streaming_replica.data_dir) == {
        "replica": "running",
        "url": streaming_replica.params.url,
        "replay_lsn": ANY,
        "lag_seconds": ANY,
        "wal_receiver": "streaming",
    }
