"""How backups reach PostgreSQL: parameters as Django connects, secrets only in the
environment of the client programs, the programs found without a machine-specific path."""

from __future__ import annotations

import os
from pathlib import Path

import pgserver
import pytest

from operations.backups import BackupError
from operations.backups.postgres import Database, pg_program


def test_parameters_come_from_the_settings_or_else_from_options():
    from_options = Database.from_settings(
        {
            "NAME": "autoindex",
            "HOST": "",
            "PORT": "",
            "USER": "app",
            "OPTIONS": {"host": "/run/pg", "port": 5433, "sslmode": "require", "pool": {}},
        }
    )
    from_settings = Database.from_settings(
        {"NAME": "autoindex", "HOST": "db.internal", "PORT": "5432", "OPTIONS": {"host": "x"}}
    )

    assert (from_options.host, from_options.port, from_options.user) == ("/run/pg", "5433", "app")
    assert from_options.options == {"sslmode": "require"}
    assert (from_settings.host, from_settings.port) == ("db.internal", "5432")


def test_the_password_travels_in_the_environment_only(monkeypatch):
    monkeypatch.setenv("PGDATABASE", "somebody_elses")
    monkeypatch.setenv("PGOPTIONS", "-c search_path=elsewhere")
    database = Database(name="autoindex", host="db", port="5432", user="app", password="s3cret")

    environ = database.environ()

    assert environ["PGPASSWORD"] == "s3cret"
    assert environ["PGDATABASE"] == "autoindex"
    assert "PGOPTIONS" not in environ
    assert environ["PATH"] == os.environ["PATH"]
    assert "s3cret" not in repr(database)


def test_programs_come_from_the_setting_then_the_embedded_wheel(settings, tmp_path):
    wheel_bin = Path(pgserver.__file__).parent / "pginstall" / "bin"
    assert pg_program("pg_dump") == str(wheel_bin / "pg_dump")

    (tmp_path / "pg_dump").write_text("#!/bin/sh\n")
    settings.BACKUP_PG_BIN_DIR = str(tmp_path)
    assert pg_program("pg_dump") == str(tmp_path / "pg_dump")
    with pytest.raises(BackupError, match=r"^pg_restore not found in BACKUP_PG_BIN_DIR"):
        pg_program("pg_restore")
