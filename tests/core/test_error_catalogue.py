"""One catalogue of problem types (core.errors.ErrorCode), documented and used everywhere."""

from __future__ import annotations

import importlib
import logging
import re
from pathlib import Path

import pytest

from core.errors import FALLBACK_CODES, ApplicationError, ErrorCode, framework_code

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
DOMAIN_ERROR_MODULES = (
    "accounts.api.views",
    "accounts.services",
    "accounts.tokens",
    "core.queue",
    "core.throttling",
    "portfolio.simulation.fx",
    "portfolio.simulation.service",
)


def _subclasses(cls: type[ApplicationError]) -> set[type[ApplicationError]]:
    found: set[type[ApplicationError]] = set()
    sub: type[ApplicationError]
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def test_docs_list_exactly_the_catalogue():
    section = DOCS.read_text().split("## Problem types", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", section, flags=re.MULTILINE))

    assert documented == {code.value for code in ErrorCode}


def test_every_domain_error_uses_a_code_of_the_catalogue():
    # Importing the modules that define domain errors registers every ApplicationError subclass.
    for module in DOMAIN_ERROR_MODULES:
        importlib.import_module(module)

    errors = _subclasses(ApplicationError) | {ApplicationError}

    assert len(errors) >= 10
    assert {type(error.code) for error in errors} == {ErrorCode}


@pytest.mark.parametrize(
    ("framework", "status", "expected"),
    [
        ("not_authenticated", 401, ErrorCode.NOT_AUTHENTICATED),
        ("token_not_valid", 401, ErrorCode.TOKEN_NOT_VALID),
        ("unsupported_media_type", 415, ErrorCode.UNSUPPORTED_MEDIA_TYPE),
        ("invalid", 400, ErrorCode.INVALID),
    ],
)
def test_framework_codes_map_onto_the_catalogue(framework, status, expected):
    assert framework_code(framework, status) is expected


def test_a_framework_code_outside_the_catalogue_falls_back_to_its_status_and_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="core.errors"):
        code = framework_code("some_new_library_code", 403)

    assert code is ErrorCode.PERMISSION_DENIED is FALLBACK_CODES[403]
    assert [record.getMessage() for record in caplog.records] == ["error code not in the catalogue"]
    assert framework_code("another_one", 418) is ErrorCode.SERVER_ERROR
