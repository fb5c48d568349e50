"""The API's JSON parser: bounded in size and in nesting depth.

DRF's ``JSONParser`` reads the request stream itself, so Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` never applies to an API body, and a deeply nested document
(``[[[[…]]]]`` a thousand levels down) exhausts the interpreter's recursion limit in the decoder
or in the serializers: a 500. :class:`BoundedJSONParser` (``DEFAULT_PARSER_CLASSES``) refuses:

- a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes: 413 ``payload-too-large``, read no
  further than one byte past the limit;
- a document nested deeper than ``API_JSON_MAX_DEPTH`` arrays/objects: 400 ``parse-error``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .errors import PayloadTooLarge


def json_depth_exceeds(document: Any, max_depth: int) -> bool:
    """Whether ``document`` nests arrays/objects deeper than ``max_depth`` (a scalar is depth
    0, ``[]`` is 1). Iterative: measuring never recurses, however deep the document."""
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, Mapping):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth + 1 > max_depth:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(JSONParser):
    """``JSONParser`` with the size and depth limits of the module docstring."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None:
            body = stream.read()
        else:
            request = (parser_context or {}).get("request")
            declared = _declared_length(request)
            if declared is not None and declared > limit:
                raise PayloadTooLarge()
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise PayloadTooLarge()
        try:
            document = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError(_too_deep()) from None
        if json_depth_exceeds(document, settings.API_JSON_MAX_DEPTH):
            raise ParseError(_too_deep())
        return document


def _declared_length(request: Any) -> int | None:
    meta = getattr(request, "META", None) or {}
    try:
        return int(meta.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def _too_deep() -> str:
    return f"JSON parse error - nested deeper than {settings.API_JSON_MAX_DEPTH} levels."
