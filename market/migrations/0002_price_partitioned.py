"""Create ``market_price`` as a table partitioned by year (see ``market/partitions.py``).

Django's migration state gets the normal model (composite primary key, check constraints); the
database gets hand-written DDL because the ORM cannot declare ``PARTITION BY``. Constraint names
match the model's so that ``makemigrations`` stays clean.

Backwards drops ``market_price`` (``DROP TABLE … CASCADE``): its partitions go with it, the yearly
ones created here and any that ``ensure_partitions`` added later, and so does every stored price.
The partition step's reverse is ``RunPython.noop`` on purpose: it runs just before that drop,
which removes the partitions it created.
"""

import datetime

import django.db.models.deletion
import django.db.models.functions.datetime
from django.db import migrations, models

FIRST_YEAR = 2015  # the demo data starts in 2015; ensure_partitions adds later years

CREATE_PARENT = """
CREATE TABLE market_price (
    asset_id bigint NOT NULL REFERENCES market_asset (id) DEFERRABLE INITIALLY DEFERRED,
    date date NOT NULL,
    open numeric(20, 8) NULL,
    high numeric(20, 8) NULL,
    low numeric(20, 8) NULL,
    close numeric(20, 8) NOT NULL,
    volume bigint NULL,
    source varchar(20) NOT NULL DEFAULT 'twelvedata',
    ingested_at timestamp with time zone NOT NULL DEFAULT STATEMENT_TIMESTAMP(),
    CONSTRAINT market_price_pk PRIMARY KEY (asset_id, date),
    CONSTRAINT market_price_close_positive CHECK (close > 0),
    CONSTRAINT market_price_low_lte_high CHECK (low IS NULL OR high IS NULL OR low <= high)
) PARTITION BY RANGE (date);
CREATE TABLE market_price_default PARTITION OF market_price DEFAULT;
"""


def create_year_partitions(apps, schema_editor):
    last_year = datetime.datetime.now(tz=datetime.UTC).year + 1
    with schema_editor.connection.cursor() as cursor:
        for year in range(FIRST_YEAR, last_year + 1):
            cursor.execute(
                f"CREATE TABLE market_price_y{year} PARTITION OF market_price "
                f"FOR VALUES FROM ('{year}-01-01') TO ('{year + 1}-01-01')"
            )


class Migration(migrations.Migration):
    dependencies = [("market", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Price',
                    fields=[
                        ('pk', models.CompositePrimaryKey('asset', 'date', blank=True, editable=False, primary_key=True, serialize=False)),
                        ('date', models.DateField()),
                        ('open', models.DecimalField(blank=True, decimal_places=8, max_digits=20, null=True)),
                        ('high', models.DecimalField(blank=True, decimal_places=8, max_digits=20, null=True)),
                        ('low', models.DecimalField(blank=True, decimal_places=8, max_digits=20, null=True)),
                        ('close', models.DecimalField(decimal_places=8, max_digits=20)),
                        ('volume', models.BigIntegerField(blank=True, null=True)),
                        ('source', models.CharField(default='twelvedata', max_length=20)),
                        ('ingested_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                        ('asset', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='prices', to='market.asset')),
                    ],
                    options={
                        'ordering': ['asset', 'date'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('close__gt', 0)), name='market_price_close_positive'), models.CheckConstraint(condition=models.Q(('low__isnull', True), ('high__isnull', True), ('low__lte', models.F('high')), _connector='OR'), name='market_price_low_lte_high')],
                    },
                ),
            ],
            database_operations=[
                migrations.RunSQL(CREATE_PARENT, reverse_sql="DROP TABLE market_price CASCADE;"),
                migrations.RunPython(create_year_partitions, migrations.RunPython.noop),
            ],
        ),
    ]
