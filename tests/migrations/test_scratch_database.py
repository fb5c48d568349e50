"""The scratch database of the migration tests is a new one, on the right server, and goes away."""

from __future__ import annotations

import environ
import psycopg
import pytest

from tests.migrations.scratch import (
    SCRATCH_NAME_PREFIX,
    database_exists,
    database_url,
    protected_names,
    scratch_database,
)


def test_scratch_database_is_neither_the_configured_nor_the_test_database():
    with scratch_database() as database:
        assert database.name.startswith(SCRATCH_NAME_PREFIX)
        assert database.name not in protected_names()
        with database.connect() as connection:
            assert connection.execute("SELECT current_database()").fetchone() == (database.name,)


def _fail_with_a_session_open(opened: list[tuple[str, psycopg.Connection]]) -> None:
    with scratch_database() as database:
        opened.append((database.name, database.connect()))  # left open: the drop must end it
        raise RuntimeError("test body failed")


def test_scratch_database_is_dropped_even_when_the_block_fails_with_a_session_open():
    opened: list[tuple[str, psycopg.Connection]] = []

    with pytest.raises(RuntimeError, match="test body failed"):
        _fail_with_a_session_open(opened)

    [(name, session)] = opened
    assert not database_exists(name)
    with pytest.raises(psycopg.OperationalError), session:  # the server ended the session
        session.execute("SELECT 1")


@pytest.mark.parametrize(
    ("settings_dict", "expected"),
    [
        pytest.param(
            {
                "USER": "postgres",
                "PASSWORD": "",
                "HOST": "/srv/pg socket",
                "PORT": 5432,
                "OPTIONS": {"application_name": "autoindex", "pool": {"min_size": 1}},
            },
            {"NAME": "scratch_x", "USER": "postgres", "HOST": "", "PORT": "", "OPTIONS": {
                "application_name": "autoindex", "host": "/srv/pg socket", "port": 5432}},
            id="unix-socket",
        ),
        pytest.param(
            {
                "USER": "us@er",
                "PASSWORD": "p/w:x",
                "HOST": "db.internal",
                "PORT": "5433",
                "OPTIONS": {"sslmode": "require"},
            },
            {"NAME": "scratch_x", "USER": "us@er", "PASSWORD": "p/w:x", "HOST": "db.internal",
             "PORT": 5433, "OPTIONS": {"sslmode": "require"}},
            id="tcp-with-password",
        ),
    ],
)  # fmt: skip
def test_scratch_url_reads_back_as_the_same_server_with_the_scratch_name(settings_dict, expected):
    parsed = environ.Env.db_url_config(database_url(settings_dict, "scratch_x"))

    assert {key: parsed[key] for key in expected} == expected
