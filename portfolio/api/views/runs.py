"""Index computations (analysts): list, detail, queue a recompute (202)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsAnalyst
from core.openapi import problem_responses
from core.pagination import CataloguePagination
from portfolio.api.filters import IndexRunFilter
from portfolio.api.openapi import EXAMPLE_RUN, SLUG_PARAMETER
from portfolio.api.serializers import (
    ComputeAcceptedOutputSerializer,
    IndexRunDetailOutputSerializer,
    IndexRunOutputSerializer,
)
from portfolio.models import IndexRun
from portfolio.selectors import index_run_list
from portfolio.services import index_compute_enqueue

from .common import live_index_or_404


@extend_schema(parameters=[SLUG_PARAMETER])
class IndexRunListView(generics.ListAPIView):
    permission_classes = [IsAnalyst]
    serializer_class = IndexRunOutputSerializer
    pagination_class = CataloguePagination
    filterset_class = IndexRunFilter

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no index
            return index_run_list(index_id=0)
        return index_run_list(index_id=live_index_or_404(self.kwargs["slug"]).pk)

    @extend_schema(
        tags=["runs"],
        summary="Computations of an index, newest first (analyst)",
        examples=[OpenApiExample("run", value=EXAMPLE_RUN, response_only=True)],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["runs"],
        summary="Recompute the index (analyst) → 202",
        description=(
            "Queues a computation for a worker; nothing is computed in the request. The worker "
            "creates the run (trigger `api`, this request's id) and publishes it when it "
            "succeeds. `Location` (and `runs_url`) is this list filtered to the request id."
        ),
        request=None,
        responses={
            202: ComputeAcceptedOutputSerializer,
            **problem_responses(503, s503="The job queue is unavailable."),
        },
        examples=[
            OpenApiExample(
                "queued",
                value={
                    "status": "queued",
                    "index": "autoindex",
                    "task_id": "0b9f0f8e-52a4-4a4e-8d1c-3f0f5f8d2c11",
                    "request_id": "3f2b7c1e9a4d4e0f8b6a5c4d3e2f1a0b",
                    "runs_url": "/api/v2/indexes/autoindex/runs/"
                    "?request_id=3f2b7c1e9a4d4e0f8b6a5c4d3e2f1a0b",
                },
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    def post(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> Response:
        queued = index_compute_enqueue(
            index=live_index_or_404(slug), actor=request.user, trigger=IndexRun.Trigger.API
        )
        runs_url = reverse("api:index-run-list", kwargs={"version": request.version, "slug": slug})
        runs_url = f"{runs_url}?request_id={queued.request_id}"
        body = {
            "status": "queued",
            "index": queued.index,
            "task_id": queued.task_id,
            "request_id": queued.request_id,
            "runs_url": runs_url,
        }
        return Response(
            ComputeAcceptedOutputSerializer(body).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": runs_url},
        )


@extend_schema(parameters=[SLUG_PARAMETER])
class IndexRunDetailView(generics.RetrieveAPIView):
    permission_classes = [IsAnalyst]
    serializer_class = IndexRunDetailOutputSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return index_run_list(index_id=0)
        return index_run_list(index_id=live_index_or_404(self.kwargs["slug"]).pk)

    @extend_schema(
        tags=["runs"],
        summary="One computation with its config snapshot, diagnostics and metrics (analyst)",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
