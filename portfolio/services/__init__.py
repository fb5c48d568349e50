"""Writes of the portfolio app (one function per use case).

- ``compute``: compute an index run from the stored prices, store it, publish it;
- ``jobs``: queue computations (API, admin, the nightly chain) and audit the triggers;
- ``indexes``: edit an index's definition and its dated memberships (admin), audited;
- ``archive``: move old superseded runs' rows to verified files, and bring them back exactly.

Every write takes the acting user (``actor``; ``None`` for the system) and records its
``AuditEvent`` itself, so the API, the admin, commands and tasks all audit the same way.
"""

from .archive import (
    ArchiveReport,
    RunArchiveCorruptError,
    RunArchiveError,
    index_run_archive,
    index_run_archive_restore,
    index_runs_archive,
)
from .compute import index_run_compute, index_run_publish, index_run_store_results
from .indexes import (
    index_create,
    index_memberships_save,
    index_restore,
    index_soft_delete,
    index_update,
    memberships_overlap_errors,
)
from .jobs import ComputeQueued, index_compute_enqueue

__all__ = [
    "ArchiveReport",
    "ComputeQueued",
    "RunArchiveCorruptError",
    "RunArchiveError",
    "index_compute_enqueue",
    "index_create",
    "index_memberships_save",
    "index_restore",
    "index_run_archive",
    "index_run_archive_restore",
    "index_run_compute",
    "index_run_publish",
    "index_run_store_results",
    "index_runs_archive",
    "index_soft_delete",
    "index_update",
    "memberships_overlap_errors",
]
