"""``manage.py import_mvp`` against a real PostgreSQL database with the MVP's schema."""

from __future__ import annotations

import datetime
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import bcrypt
import psycopg
import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from accounts.models import AuditEvent, User
from accounts.roles import Role, roles_of
from market.models import Asset, MarketCap, Price, PriceRevision
from portfolio.models import Index
from strategy.models import StrategyConfig
from tests.api.conftest import api_url
from tests.compat.mvp_schema import database_url, scratch_database
from tests.factories import AssetFactory, PriceFactory, UserFactory
from tests.portfolio.published import level_on, run_build, trading_days

pytestmark = pytest.mark.django_db

MVP_PASSWORD = "mvp password 123"
DAY_1 = datetime.date(2024, 3, 1)
DAY_2 = datetime.date(2024, 3, 4)


@pytest.fixture
def mvp() -> Iterator[psycopg.Connection[Any]]:
    with scratch_database() as connection:
        yield connection


def mvp_url(connection: psycopg.Connection[Any]) -> str:
    return database_url(connection.info.dbname)


def mvp_fill(connection: psycopg.Connection[Any]) -> None:
    """A few rows of each MVP table (ids fixed so the rows can refer to each other)."""
    password_hash = bcrypt.hashpw(MVP_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    connection.execute(
        "INSERT INTO users (id, email, password_hash, is_google_user, created_at) VALUES "
        "(1, 'alice@example.com', %s, false, '2024-01-05 10:00:00'),"
        "(2, 'gina@example.com', 'google-oauth-placeholder', true, '2024-01-06 11:00:00'),"
        "(3, 'taken@example.com', %s, false, '2024-01-07 12:00:00')",
        [password_hash, password_hash],
    )
    connection.execute(
        "INSERT INTO assets (id, symbol, name, sector) VALUES "
        "(1, 'AAPL', 'Apple', 'Tech'), (2, 'XYZ', 'Xyz Corp', 'Industrials'),"
        "(3, 'NEWCO', 'New Co', 'Energy'), (4, 'bad sym', 'Bad', NULL)"
    )
    connection.execute(
        "INSERT INTO prices (asset_id, date, close) VALUES "
        "(1, %(d1)s, 101.5), (1, %(d2)s, 102.25), (2, %(d1)s, 5.0), (3, %(d1)s, 10.0),"
        "(3, %(d2)s, 10.5), (4, %(d1)s, 1.0)",
        {"d1": DAY_1, "d2": DAY_2},
    )
    connection.execute(
        "INSERT INTO market_cap_data (asset_id, date, market_cap, shares_outstanding) VALUES "
        "(1, '2024-02-01 00:00:00', 2900000000000.0, NULL), (1, '2024-03-01 00:00:00', 3.0e12,"
        " NULL), (3, '2024-03-01 00:00:00', 1500000000.0, 15000000.0)"
    )
    connection.execute(
        "INSERT INTO strategy_configs (momentum_weight, market_cap_weight, risk_parity_weight,"
        " daily_drop_threshold, min_price_threshold, rebalance_frequency, max_forward_fill_days,"
        " ai_adjusted, ai_adjustment_reason, adjustment_history) VALUES "
        "(0.5, 0.25, 0.25, -0.02, 2.0, 'Monthly', 3, true, 'bullish', %s)",
        [json.dumps([{"momentum_weight": 0.5}])],
    )
    days = trading_days(5)
    connection.execute(
        "INSERT INTO index_values (date, value) SELECT * FROM unnest(%s::date[], %s::float8[])",
        [days, [level_on(n) * (1.02 if n == 3 else 1.0) * 1.5 for n in range(5)]],
    )


@pytest.fixture
def ours() -> dict[str, Any]:
    """What we hold before the import: a stored AAPL bar, an asset without name or sector, a
    user with an MVP user's e-mail, and a published run of the default index."""
    aapl = Asset.objects.get(symbol="AAPL")
    stored = PriceFactory(
        asset=aapl,
        date=DAY_1,
        open=Decimal("99"),
        high=Decimal("101"),
        low=Decimal("98"),
        close=Decimal("100"),
        volume=5_000,
    )
    xyz = AssetFactory(symbol="XYZ", name="", sector="")
    taken = UserFactory(email="taken@example.com")
    run = run_build(index=Index.objects.get(slug="autoindex"), days=5)
    return {"aapl": aapl, "stored": stored, "xyz": xyz, "taken": taken, "run": run}


def import_mvp(url: str, *args: str) -> list[str]:
    out = io.StringIO()
    call_command("import_mvp", "--database-url", url, *args, stdout=out, verbosity=0)
    return out.getvalue().splitlines()


def table(lines: list[str]) -> list[str]:
    """The entity rows of the summary (between the header row and the first section)."""
    start = lines.index(next(line for line in lines if line.startswith("entity"))) + 1
    rows = []
    for line in lines[start:]:
        if line.endswith(":"):
            break
        rows.append(" ".join(line.split()))
    return rows


def test_import_brings_users_assets_prices_caps_and_strategy(mvp, ours):
    mvp_fill(mvp)

    lines = import_mvp(mvp_url(mvp))

    assert lines[0].startswith("MVP import: ")
    assert table(lines) == [
        "assets 4 1 1 1 1",
        "users 3 2 0 0 1",
        "prices 6 4 1 0 1",
        "market caps 3 3 0 0 0",
        "strategy 1 0 1 0 0",
        "index levels 5 0 0 0 5",
    ]
    assert "  users: 1 e-mail already registered here (that account is kept as it is)" in lines
    assert "  prices: 1 asset not imported (see assets)" in lines
    assert "  users: 1 Google users created without a usable password" in lines
    assert (
        "  prices: 1 stored closes differed from the MVP's: each change is logged as a price "
        "revision"
    ) in lines
    assert (
        "  assets: created as equity in USD (the MVP stored no class; check them in the admin): "
        "NEWCO"
    ) in lines
    assert any(line.startswith("  assets: 1 not a valid asset here (") for line in lines)


def test_bcrypt_user_signs_in_with_the_mvp_password_and_the_hash_is_upgraded(mvp, ours, client):
    mvp_fill(mvp)
    import_mvp(mvp_url(mvp))
    alice = User.objects.get(email="alice@example.com")
    assert alice.password.startswith("bcrypt$$2b$04$")
    assert roles_of(alice) == [Role.VIEWER.value]
    assert alice.date_joined == datetime.datetime(2024, 1, 5, 10, tzinfo=datetime.UTC)

    assert authenticate(email="alice@example.com", password="wrong") is None
    assert authenticate(email="alice@example.com", password=MVP_PASSWORD) == alice

    alice.refresh_from_db()
    assert alice.password.startswith("md5$")  # the test settings' preferred hasher
    response = client.post(
        api_url("auth-token"),
        {"email": "alice@example.com", "password": MVP_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert set(response.json()) >= {"access", "refresh"}


def test_google_user_has_no_usable_password_and_existing_user_is_untouched(mvp, ours):
    mvp_fill(mvp)
    taken_hash = ours["taken"].password

    import_mvp(mvp_url(mvp))

    gina = User.objects.get(email="gina@example.com")
    assert not gina.has_usable_password()
    assert roles_of(gina) == [Role.VIEWER.value]
    ours["taken"].refresh_from_db()
    assert ours["taken"].password == taken_hash
    assert roles_of(ours["taken"]) == []
    event = AuditEvent.objects.get(action="accounts.user_created", target_id=str(gina.pk))
    assert event.details == {
        "email": "gina@example.com",
        "usable_password": False,
        "google_user": True,
        "source": "mvp-import",
        "mvp_user_id": 2,
    }


def test_differing_close_becomes_a_revision_and_the_bar_keeps_its_other_fields(mvp, ours):
    mvp_fill(mvp)

    import_mvp(mvp_url(mvp))

    revision = PriceRevision.objects.get(asset=ours["aapl"], date=DAY_1)
    assert (revision.old_close, revision.new_close) == (Decimal("100"), Decimal("101.5"))
    bar = Price.objects.get(asset=ours["aapl"], date=DAY_1)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.source) == (
        Decimal("99"),
        Decimal("101"),
        Decimal("98"),
        Decimal("101.5"),
        5_000,
        "mvp-import",
    )
    new_bar = Price.objects.get(asset=ours["aapl"], date=DAY_2)
    assert (new_bar.close, new_bar.open, new_bar.volume) == (Decimal("102.25"), None, None)
    assert PriceRevision.objects.count() == 1


def test_assets_merge_by_symbol_and_caps_fill_only_empty_fields(mvp, ours):
    mvp_fill(mvp)

    import_mvp(mvp_url(mvp))

    aapl = Asset.objects.get(symbol="AAPL")
    assert (aapl.name, aapl.sector) == ("Apple Inc.", "Technology")  # ours were set: kept
    # The MVP's dated series, in full: one row per day, source import.
    assert list(
        MarketCap.objects.filter(asset__symbol__in=["AAPL", "NEWCO"])
        .order_by("asset__symbol", "as_of")
        .values_list("asset__symbol", "as_of", "value", "shares_outstanding", "source")
    ) == [
        ("AAPL", datetime.date(2024, 2, 1), Decimal("2900000000000.00"), None, "import"),
        ("AAPL", datetime.date(2024, 3, 1), Decimal("3000000000000.00"), None, "import"),
        ("NEWCO", datetime.date(2024, 3, 1), Decimal("1500000000.00"), 15_000_000, "import"),
    ]
    xyz = Asset.objects.get(symbol="XYZ")
    assert (xyz.name, xyz.sector) == ("Xyz Corp", "Industrials")
    newco = Asset.objects.get(symbol="NEWCO")
    assert (newco.asset_class, newco.currency) == ("equity", "USD")
    assert not Asset.all_objects.filter(symbol="bad sym").exists()


def test_strategy_is_mapped_field_by_field_and_the_rest_reported(mvp, ours):
    mvp_fill(mvp)

    lines = import_mvp(mvp_url(mvp))

    strategy = StrategyConfig.objects.get(indexes__slug="autoindex")
    assert (
        strategy.momentum_weight,
        strategy.market_cap_weight,
        strategy.risk_parity_weight,
        strategy.min_price,
        strategy.rebalance_frequency,
        strategy.max_forward_fill_days,
        strategy.max_daily_return,
        strategy.min_daily_return,
        strategy.outlier_std_threshold,
    ) == (0.5, 0.25, 0.25, 2.0, "monthly", 3, 0.5, -0.5, 3.0)
    assert (
        "  strategy: not imported: daily_drop_threshold=-0.02 (no equivalent knob), "
        "ai_adjusted=True (AI adjust is retired), ai_adjustment_reason='bullish' (AI adjust is "
        "retired), adjustment_history=[{'momentum_weight': 0.5}] (AI adjust is retired)"
    ) in lines
    assert any(
        line.startswith("  strategy 'default': momentum_weight 0.4 -> 0.5, ") for line in lines
    )
    assert (
        AuditEvent.objects.filter(action="strategy.changed", target_id=str(strategy.pk)).count()
        == 1
    )


def test_mvp_levels_are_compared_with_the_published_run_not_imported(mvp, ours):
    mvp_fill(mvp)

    lines = import_mvp(mvp_url(mvp))

    run = ours["run"]
    first, worst = trading_days(5)[0], trading_days(5)[3]
    assert (
        f"  index levels vs published run #{run.pk} of 'autoindex': 5 common dates, rebased to "
        f"100 on {first:%Y-%m-%d}: max |difference| 2.00% on {worst:%Y-%m-%d}, mean 0.40%"
    ) in lines
    assert run.values.count() == 5


def test_second_run_imports_nothing_new(mvp, ours):
    mvp_fill(mvp)
    import_mvp(mvp_url(mvp))
    audit_events, revisions = AuditEvent.objects.count(), PriceRevision.objects.count()

    lines = import_mvp(mvp_url(mvp))

    assert table(lines) == [
        "assets 4 0 0 3 1",
        "users 3 0 0 2 1",
        "prices 6 0 0 5 1",
        "market caps 3 0 0 3 0",
        "strategy 1 0 0 1 0",
        "index levels 5 0 0 0 5",
    ]
    assert (AuditEvent.objects.count(), PriceRevision.objects.count()) == (audit_events, revisions)


def test_dry_run_reports_the_changes_and_writes_nothing(mvp, ours):
    mvp_fill(mvp)
    before = (
        User.objects.count(),
        Asset.all_objects.count(),
        Price.objects.count(),
        PriceRevision.objects.count(),
        AuditEvent.objects.count(),
        StrategyConfig.objects.get(name="default").momentum_weight,
    )

    lines = import_mvp(mvp_url(mvp), "--dry-run")

    assert lines[0].startswith(
        "MVP import (DRY RUN: nothing was written, the transaction was rolled back): "
    )
    assert table(lines)[:3] == ["assets 4 1 1 1 1", "users 3 2 0 0 1", "prices 6 4 1 0 1"]
    after = (
        User.objects.count(),
        Asset.all_objects.count(),
        Price.objects.count(),
        PriceRevision.objects.count(),
        AuditEvent.objects.count(),
        StrategyConfig.objects.get(name="default").momentum_weight,
    )
    assert after == before


def test_no_published_run_is_said(mvp):
    mvp_fill(mvp)

    lines = import_mvp(mvp_url(mvp), "--dry-run")

    assert "  index levels: no published run to compare" in lines


def test_unreachable_database_is_one_clear_error():
    with pytest.raises(
        CommandError, match=r"^cannot connect to the MVP database 127\.0\.0\.1:9/mvp: "
    ):
        import_mvp("postgresql://nobody@127.0.0.1:9/mvp")


def test_database_without_the_mvp_tables_is_refused():
    with (
        scratch_database(schema=False) as empty,
        pytest.raises(
            CommandError, match=r"is not an MVP database: tables missing: assets, prices, users$"
        ),
    ):
        import_mvp(mvp_url(empty))
