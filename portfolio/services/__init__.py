"""Writes of the portfolio app (one function per use case).

- ``compute``: compute an index run from the stored prices, store it, publish it;
- ``jobs``: queue computations (API, admin, the nightly chain) and audit the triggers;
- ``indexes``: edit an index's definition (admin), audited.

Every write takes the acting user (``actor``; ``None`` for the system) and records its
``AuditEvent`` itself, so the API, the admin, commands and tasks all audit the same way.
"""

from .compute import index_run_compute, index_run_publish, index_run_store_results
from .indexes import index_create, index_restore, index_soft_delete, index_update
from .jobs import ComputeQueued, index_compute_enqueue, indexes_recompute_enqueue

__all__ = [
    "ComputeQueued",
    "index_compute_enqueue",
    "index_create",
    "index_restore",
    "index_run_compute",
    "index_run_publish",
    "index_run_store_results",
    "index_soft_delete",
    "index_update",
    "indexes_recompute_enqueue",
]
