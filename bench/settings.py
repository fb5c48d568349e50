"""Settings of the web server that ``bench.api`` and ``bench.scale`` measure (never deployed).

The test settings (real PostgreSQL and Redis, the run's cache key prefix) with two changes:

- ``ROOT_URLCONF`` is :mod:`bench.urls`: every production route plus the hello-world baseline;
- the database is the benchmark's own, named by ``AUTOINDEX_BENCH_DATABASE`` (the parent
  process creates and drops it, see ``bench.database``).
"""

from __future__ import annotations

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import DATABASES

ROOT_URLCONF = "bench.urls"
DATABASES["default"]["NAME"] = os.environ["AUTOINDEX_BENCH_DATABASE"]
