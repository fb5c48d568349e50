"""OpenAPI description of the market API (drf-spectacular), kept out of the views.

One ``extend_schema_view`` per view class, applied as its decorator: assets, their prices,
currencies and refresh jobs. Error responses beyond the implicit ones are declared with
:func:`core.openapi.problem_responses`.
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)

from core.openapi import problem_responses

from .serializers import (
    AssetCreateInputSerializer,
    AssetOutputSerializer,
    AssetUpdateInputSerializer,
    RefreshAcceptedOutputSerializer,
    RefreshRequestInputSerializer,
)

SYMBOL_PARAMETER = OpenApiParameter(
    "symbol",
    str,
    OpenApiParameter.PATH,
    description="Asset symbol, upper case (`AAPL`, `EUR/USD`, `^GSPC`).",
    pattern=r"^[A-Z0-9./^-]{1,20}$",
)
EXAMPLE_ASSET = {
    "symbol": "AAPL",
    "name": "Apple Inc.",
    "sector": "Technology",
    "asset_class": "equity",
    "currency": "USD",
    "exchange": "NASDAQ",
    "market_cap": "3400000000000.00",
    "is_active": True,
    "created_at": "2026-01-05T10:00:00Z",
    "updated_at": "2026-01-05T10:00:00Z",
}
_ASSET_EXAMPLE = OpenApiExample("asset", value=EXAMPLE_ASSET, response_only=True)
_SYMBOL_TAKEN = "A live asset already uses this symbol."

asset_list_schema = extend_schema_view(
    get=extend_schema(
        tags=["assets"],
        summary="List live assets (filter by sector, class, active flag, search)",
        examples=[_ASSET_EXAMPLE],
    ),
    post=extend_schema(
        tags=["assets"],
        summary="Create an asset (analyst)",
        request=AssetCreateInputSerializer,
        responses={201: AssetOutputSerializer, **problem_responses(409, s409=_SYMBOL_TAKEN)},
        examples=[
            OpenApiExample(
                "new asset",
                value={
                    "symbol": "AMD",
                    "name": "AMD",
                    "sector": "Technology",
                    "asset_class": "equity",
                    "exchange": "NASDAQ",
                },
                request_only=True,
            )
        ],
    ),
)

asset_detail_schema = extend_schema_view(
    get=extend_schema(
        tags=["assets"],
        summary="One live asset",
        parameters=[SYMBOL_PARAMETER],
        responses={200: AssetOutputSerializer},
        examples=[_ASSET_EXAMPLE],
    ),
    patch=extend_schema(
        tags=["assets"],
        summary="Change an asset's fields (analyst); the symbol is fixed",
        parameters=[SYMBOL_PARAMETER],
        request=AssetUpdateInputSerializer,
        responses={200: AssetOutputSerializer},
        examples=[
            OpenApiExample(
                "new market cap", value={"market_cap": "3500000000000.00"}, request_only=True
            )
        ],
    ),
    delete=extend_schema(
        tags=["assets"],
        summary="Soft-delete an asset (analyst); prices are kept, restore brings it back",
        parameters=[SYMBOL_PARAMETER],
        responses={204: None},
    ),
)

asset_restore_schema = extend_schema_view(
    post=extend_schema(
        tags=["assets"],
        summary="Restore the most recently deleted asset with this symbol (analyst)",
        parameters=[SYMBOL_PARAMETER],
        request=None,
        responses={
            200: AssetOutputSerializer,
            **problem_responses(
                404, 409, s404="No deleted asset with this symbol.", s409=_SYMBOL_TAKEN
            ),
        },
    ),
)

asset_prices_schema = extend_schema_view(
    get=extend_schema(
        tags=["assets"],
        summary="Daily prices of an asset, oldest first (cursor-paginated)",
        parameters=[SYMBOL_PARAMETER],
        examples=[
            OpenApiExample(
                "bar",
                value={
                    "date": "2026-01-05",
                    "open": "243.10000000",
                    "high": "245.00000000",
                    "low": "241.90000000",
                    "close": "244.50000000",
                    "volume": 51234000,
                },
                response_only=True,
            )
        ],
    ),
)

currency_list_schema = extend_schema_view(
    get=extend_schema(
        tags=["currencies"],
        summary="Currencies convertible to USD and the dates their FX series covers",
        examples=[
            OpenApiExample(
                "EUR",
                value={
                    "code": "EUR",
                    "pair": "EUR/USD",
                    "first_date": "2015-01-02",
                    "last_date": "2026-01-05",
                    "observations": 2870,
                },
                response_only=True,
            )
        ],
    ),
)

refresh_job_list_schema = extend_schema_view(
    get=extend_schema(tags=["jobs"], summary="Market refresh runs, newest first (analyst)"),
    post=extend_schema(
        tags=["jobs"],
        summary="Start a market refresh (analyst) → 202",
        description=(
            "Queues the refresh for a worker. Only one refresh runs at a time; a request while "
            "one runs joins it. Find the run with `GET jobs/refresh/?request_id=…`."
        ),
        request=RefreshRequestInputSerializer,
        responses={
            202: RefreshAcceptedOutputSerializer,
            **problem_responses(
                422,
                503,
                s422="Unknown symbols, or dates in the future or reversed; see `errors`.",
                s503="The job queue is unavailable.",
            ),
        },
        examples=[
            OpenApiExample(
                "two symbols",
                value={"symbols": ["AAPL", "EUR/USD"], "start": "2026-01-01"},
                request_only=True,
            )
        ],
    ),
)

refresh_job_detail_schema = extend_schema_view(
    get=extend_schema(tags=["jobs"], summary="One market refresh run (analyst)"),
)
