"""Embedded servers: reused when running, restarted when stale or crashed."""

import os
import signal
import time

import pytest
import redis

from core import embedded


@pytest.fixture
def short_tmp(tmp_path_factory):
    # Unix socket paths are limited to ~100 characters: keep the data dir short.
    return tmp_path_factory.mktemp("emb")


def _redis_pid(data_dir):
    return int((data_dir / "redis" / "redis.pid").read_text())


def test_redis_starts_once_and_is_reused(short_tmp):
    url = embedded.ensure_redis(short_tmp)
    first_pid = _redis_pid(short_tmp)
    try:
        assert embedded.ensure_redis(short_tmp) == url
        assert _redis_pid(short_tmp) == first_pid
        client = redis.Redis.from_url(url)
        client.set("k", "v")
        assert client.get("k") == b"v"
    finally:
        os.kill(_redis_pid(short_tmp), signal.SIGKILL)


def test_crashed_redis_is_detected_and_restarted(short_tmp):
    embedded.ensure_redis(short_tmp)
    crashed_pid = _redis_pid(short_tmp)
    os.kill(crashed_pid, signal.SIGKILL)
    time.sleep(0.2)  # the socket file is left behind, as after a real crash

    url = embedded.ensure_redis(short_tmp)
    try:
        assert _redis_pid(short_tmp) != crashed_pid
        assert redis.Redis.from_url(url).ping()
    finally:
        os.kill(_redis_pid(short_tmp), signal.SIGKILL)


def test_postgres_is_reused_and_restarted_after_a_crash(short_tmp):
    import psycopg

    params = embedded.ensure_postgres(short_tmp)
    pid_file = short_tmp / "postgres" / "postmaster.pid"
    first_pid = int(pid_file.read_text().split()[0])
    assert embedded.ensure_postgres(short_tmp) == params
    assert int(pid_file.read_text().split()[0]) == first_pid

    os.kill(first_pid, signal.SIGKILL)  # crash: postmaster.pid stays behind
    for _ in range(50):
        try:
            os.kill(first_pid, 0)
            time.sleep(0.1)
        except OSError:
            break

    params = embedded.ensure_postgres(short_tmp)
    new_pid = int(pid_file.read_text().split()[0])
    try:
        assert new_pid != first_pid
        with psycopg.connect(
            host=params.host, port=params.port, user=params.user, dbname=params.name
        ) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        os.kill(new_pid, signal.SIGTERM)


def test_redis_in_a_deep_directory_uses_a_short_socket_path(short_tmp):
    deep = short_tmp / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    url = embedded.ensure_redis(deep)
    try:
        socket_path = url.removeprefix("unix://").split("?")[0]
        assert len(socket_path) <= embedded.MAX_SOCKET_PATH_LENGTH
        assert redis.Redis.from_url(url).ping()
        assert embedded.ensure_redis(deep) == url  # the same server is found again
    finally:
        os.kill(_redis_pid(deep), signal.SIGKILL)


def test_stop_all_shuts_redis_down_and_keeps_its_data(short_tmp):
    url = embedded.ensure_redis(short_tmp)
    redis.Redis.from_url(url).set("kept", "yes")
    pid = _redis_pid(short_tmp)

    embedded.stop_all(short_tmp)

    for _ in range(50):
        try:
            os.kill(pid, 0)
            time.sleep(0.1)
        except OSError:
            break
    else:
        pytest.fail("redis is still running")
    url = embedded.ensure_redis(short_tmp)
    try:
        assert redis.Redis.from_url(url).get("kept") == b"yes"
    finally:
        os.kill(_redis_pid(short_tmp), signal.SIGKILL)
