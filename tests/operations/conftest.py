"""Backups on the real test database: committed data (pg_dump reads it over its own
connection), a backup folder per test, fresh databases to restore into, an S3 server on
loopback (moto's real HTTP server), and the live row counts computed independently of the
code under test (information_schema, one ``count(*)`` per table through Django)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg
import pytest
from django.db import connection
from moto.server import ThreadedMotoServer
from psycopg import sql

from operations.backups.postgres import Database
from operations.backups.scratch import database_alias, scratch_database_exists

# Committed data, visible to pg_dump's own connection; serialized_rollback puts back what the
# migrations wrote (default universe, schedules) after the flush.
BACKUP_DB = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Tables whose rows are not in a backup's counts: the partitioned parent holds none of its own
# (its partitions are counted), and the backup catalogue is left out of every dump.
NOT_COUNTED = {"market_price", "operations_backup"}

S3_BUCKET = "autoindex-backups-test"
S3_PREFIX = "nightly/"


@pytest.fixture
def backup_dir(settings, tmp_path) -> Path:
    """Backups go to a folder of this test (local storage)."""
    settings.BACKUP_STORAGE = "local"
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


def live_counts() -> dict[str, int]:
    """``public.<table>`` → exact row count of every base table, as Django sees them now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = sorted(name for (name,) in cursor.fetchall() if name not in NOT_COUNTED)
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            counts[f"public.{table}"] = cursor.fetchone()[0]
    return counts


def source_database() -> Database:
    return Database.from_settings(connection.settings_dict)


def database_exists(name: str) -> bool:
    return scratch_database_exists(source_database(), name)


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A new, empty database on the test server, as a Django alias; dropped afterwards."""
    source = source_database()
    name = f"test_restore_{secrets.token_hex(4)}"
    with source.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with database_alias(source.with_name(name)) as alias:
            yield alias
    finally:
        with source.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def other_connection() -> Iterator[psycopg.Connection]:
    """A second session on the test database (another process, as far as locks go)."""
    with source_database().connect(autocommit=True) as conn:
        yield conn


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 over real HTTP on 127.0.0.1 (a free port); its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_backups(settings, s3_server):
    """Backups go to a fresh bucket on the loopback S3; the boto3 client to look into it."""
    settings.BACKUP_STORAGE = "s3"
    settings.BACKUP_S3_BUCKET = S3_BUCKET
    settings.BACKUP_S3_PREFIX = S3_PREFIX
    settings.BACKUP_S3_ENDPOINT_URL = s3_server
    settings.BACKUP_S3_REGION = "us-east-1"
    settings.BACKUP_S3_ACCESS_KEY_ID = "testing"
    settings.BACKUP_S3_SECRET_ACCESS_KEY = "testing"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=S3_BUCKET)
    yield client
    listed = client.list_objects_v2(Bucket=S3_BUCKET).get("Contents", [])
    for item in listed:
        client.delete_object(Bucket=S3_BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=S3_BUCKET)
