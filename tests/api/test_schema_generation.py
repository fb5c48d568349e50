"""The OpenAPI schema is generated without touching the database.

drf-spectacular builds it at ``manage.py check`` time too; a view that queries while the schema
is generated made every deployment check wait for (or fail on) the database.
"""

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


def test_schema_generation_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        schema = SchemaGenerator().get_schema(request=None, public=True)

    assert "/api/v2/currencies/" in schema["paths"]
    assert "/api/v2/indexes/{slug}/simulations/" in schema["paths"]
