"""A scratch MVP database for the import tests: the MVP's schema (``mvp-schema.md``) as DDL.

The tables are what the MVP's ``Base.metadata.create_all`` made on PostgreSQL (SQLAlchemy's
``Float`` is double precision, ``String`` varchar). The database lives on the test server next
to the test database and is dropped afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
from django.db import connection
from psycopg import sql

MVP_SCHEMA = """
CREATE TABLE users (
    id serial PRIMARY KEY,
    email varchar NOT NULL,
    password_hash varchar NOT NULL,
    is_google_user boolean DEFAULT false,
    created_at timestamp without time zone
);
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE TABLE assets (
    id serial PRIMARY KEY,
    symbol varchar NOT NULL,
    name varchar,
    sector varchar
);
CREATE UNIQUE INDEX ix_assets_symbol ON assets (symbol);
CREATE TABLE prices (
    id serial PRIMARY KEY,
    asset_id integer NOT NULL REFERENCES assets (id),
    date date NOT NULL,
    close double precision NOT NULL,
    CONSTRAINT _asset_date_uc UNIQUE (asset_id, date)
);
CREATE INDEX ix_prices_asset_id ON prices (asset_id);
CREATE INDEX ix_prices_date ON prices (date);
CREATE TABLE index_values (
    id serial PRIMARY KEY,
    date date NOT NULL UNIQUE,
    value double precision NOT NULL
);
CREATE TABLE allocations (
    id serial PRIMARY KEY,
    date date NOT NULL,
    asset_id integer REFERENCES assets (id),
    weight double precision NOT NULL
);
CREATE INDEX ix_allocations_date ON allocations (date);
CREATE TABLE strategy_configs (
    id serial PRIMARY KEY,
    momentum_weight double precision DEFAULT 0.4,
    market_cap_weight double precision DEFAULT 0.3,
    risk_parity_weight double precision DEFAULT 0.3,
    daily_drop_threshold double precision DEFAULT -0.01,
    max_daily_return double precision DEFAULT 0.5,
    min_daily_return double precision DEFAULT -0.5,
    min_price_threshold double precision DEFAULT 1.0,
    rebalance_frequency varchar DEFAULT 'weekly',
    last_rebalance timestamp without time zone,
    force_rebalance boolean DEFAULT false,
    max_forward_fill_days integer DEFAULT 2,
    outlier_std_threshold double precision DEFAULT 3.0,
    ai_adjusted boolean DEFAULT false,
    ai_adjustment_reason varchar,
    ai_confidence_score double precision,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    adjustment_history json
);
CREATE TABLE risk_metrics (
    id serial PRIMARY KEY,
    date date,
    total_return double precision,
    sharpe_ratio double precision,
    max_drawdown double precision,
    created_at timestamp without time zone
);
CREATE TABLE market_cap_data (
    id serial PRIMARY KEY,
    asset_id integer REFERENCES assets (id),
    date timestamp without time zone,
    market_cap double precision,
    shares_outstanding double precision,
    free_float double precision,
    average_volume double precision,
    created_at timestamp without time zone
);
CREATE INDEX ix_market_cap_data_asset_id ON market_cap_data (asset_id);
CREATE INDEX ix_market_cap_data_date ON market_cap_data (date);
CREATE TABLE news_articles (id serial PRIMARY KEY, title varchar);
"""

_numbers = count()


def _server_params() -> dict[str, Any]:
    """libpq keywords of the test server (the embedded one may listen on a unix socket)."""
    settings = connection.settings_dict
    params = {
        "host": settings["HOST"],
        "port": settings["PORT"],
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "dbname": settings["NAME"],
    }
    return {key: value for key, value in params.items() if value not in (None, "")}


def database_url(name: str) -> str:
    """A ``postgresql://`` URL of database ``name`` on the test server (host as a parameter,
    so a socket directory works). The password, if any, goes in the URL: tests only."""
    params = _server_params()
    user = quote(str(params.get("user", "")))
    password = params.get("password")
    credentials = f"{user}:{quote(str(password))}@" if password else f"{user}@"
    query = urlencode({"host": params.get("host", "localhost"), "port": params.get("port", 5432)})
    return f"postgresql://{credentials}/{quote(name)}?{query}"


@contextmanager
def scratch_database(*, schema: bool = True) -> Iterator[psycopg.Connection[Any]]:
    """A new, empty database (with the MVP's tables when ``schema``) on the test server, as an
    autocommit connection whose ``info.dbname`` names it; dropped on exit."""
    name = f"mvp_{os.getpid()}_{next(_numbers)}"
    admin_params = _server_params()
    with psycopg.connect(**admin_params, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(**{**admin_params, "dbname": name}, autocommit=True) as mvp:
            if schema:
                mvp.execute(MVP_SCHEMA)
            yield mvp
    finally:
        with psycopg.connect(**admin_params, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
