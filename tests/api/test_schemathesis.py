"""Schemathesis against /api/schema/ on a live server, signed in as an analyst.

Every operation gets bounded examples, positive and negative, checked by every check schemathesis
has (``--checks all``): every response must be documented (status, content type — errors as
application/problem+json — headers, body schema), nothing may answer 5xx, invalid input must be
refused (``negative_data_rejection``) and valid input accepted (``positive_data_acceptance``).
One transactional test: the live server needs committed data, and
seeding once keeps the run short. Failures of all operations are collected and reported
together.
"""

from __future__ import annotations

import datetime as dt

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode

from core.validators import api_date_range
from portfolio.models import Index
from strategy.models import StrategyConfig
from tests.factories import AnalystFactory, AssetFactory, PriceFactory, RefreshRunFactory
from tests.portfolio.published import published_index_build

# serialized_rollback: the flush after a transactional test without it re-creates the content
# types, and a later serialized-rollback test (tests/market) then fails to restore its own.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

MAX_EXAMPLES = 20
# Valid-by-schema data may still be refused for the state it meets: 409 (a live duplicate)
# and 422 (e.g. a refresh of unknown symbols) are documented answers, never 400. A 304 is the
# documented answer to a conditional GET whose validator matches (``If-None-Match: *``).
ACCEPTED = ["2xx", "304", "401", "403", "404", "409", "422", "429"]


CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
        # Rules across fields that a schema cannot state are 400s: a simulation's (or a
        # series window's) end before its start or a currency without an FX series; a
        # strategy whose component weights do not sum to 1 (the engine's own validation).
        "operations": [
            {
                "include-path-regex": (
                    "/simulations/$|/strategies/|/values/$|/benchmark/$"
                    "|/allocation-history/$|/drawdown/$"
                ),
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
            }
        ],
    }
)
UNTHROTTLED = "100000/min"


@pytest.fixture
def seeded_analyst(settings):
    """Seed assets, prices and runs. Jobs a POST queues go to the run's own broker keys
    (``CELERY_TEST_KEY_PREFIX``): no worker runs them, and the run deletes them at the end."""
    # Schemathesis is one client hammering the API: lift the capacity throttles (the
    # brute-force limits on sign-in stay on and answer a documented 429).
    scopes = ("anon", "viewer", "analyst", "admin", "simulation")
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(scopes, UNTHROTTLED),
    }
    asset = AssetFactory(symbol="ZSEED")
    AssetFactory(symbol="ZGONE").delete()
    for offset in range(5):
        PriceFactory(asset=asset, date=dt.date(2024, 1, 1) + dt.timedelta(days=offset))
    analyst = AnalystFactory()
    RefreshRunFactory(triggered_by=analyst)
    # A published index under the slug the schema's examples use, and strategy 1 (the
    # example id), so the index endpoints answer with data, not only 404s.
    Index.objects.filter(slug="autoindex").delete()
    published_index_build(slug="autoindex", days=60)
    if not StrategyConfig.objects.filter(pk=1).exists():
        StrategyConfig.objects.create(pk=1, name="schemathesis")
    return analyst


@pytest.fixture
def api_dates():
    """Dates in the documented range (``API_DATE_MIN`` to a year ahead) for ``format: date``.

    OpenAPI cannot bound a date, so the range is stated in each field's description; valid
    examples must respect it (out-of-range dates are invalid input, answered 400)."""
    first, last = api_date_range()
    schemathesis.openapi.format(
        "date", st.dates(min_value=first, max_value=last).map(dt.date.isoformat)
    )
    yield
    schemathesis.openapi.format("date", st.dates().map(dt.date.isoformat))


def all_checks() -> list:
    """Every check schemathesis registers: the ``--checks all`` of the CLI."""
    load_all_checks()
    return list(CHECKS.get_all())


def test_api_conforms_to_its_schema(live_server, seeded_analyst, api_dates):
    token = str(AccessToken.for_user(seeded_analyst))
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json", config=CONFIG
    )

    # The analyst's token as the schema's auth (not as fixed headers): schemathesis then knows
    # the credentials are explicit, so ``ignored_auth`` removes or spoils them to prove each
    # operation refuses the request, and no negative case counts the token as its own input.
    @schema.auth(refresh_interval=None)
    class AnalystAuth:
        def get(self, case, ctx) -> str:
            return token

        def set(self, case, data: str, ctx) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    checks = all_checks()
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "use_after_free",
        "ensure_resource_availability",
        "ignored_auth",
    } <= {check.__name__ for check in checks}
    failures: list[str] = []
    operations = 0
    # /api/v1/ is the MVP compatibility layer (compat app): it answers in the MVP's own
    # shapes, not problem+json, and is not part of this contract.
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/v2/"):
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def check(case):
                case.call_and_validate(checks=checks)

            try:
                check()
            except Unsatisfiable:
                # Nothing to negate (no parameters, no body): no negative case exists.
                if mode is not GenerationMode.NEGATIVE:
                    raise
            # FailureGroup (several distinct failures) is a BaseExceptionGroup, not an Exception.
            except (Exception, FailureGroup) as failure:  # noqa: BLE001 - reported below
                failures.append(f"{operation.label} [{mode.value}]: {failure}")

    assert operations >= 15
    assert not failures, "\n\n".join(failures)
