"""Tests never leave Celery messages where a developer's worker would run them."""

from __future__ import annotations

from django.conf import settings

from config.celery import app
from tests.conftest import run_broker_keys_delete


def test_a_task_sent_by_a_test_lands_under_the_runs_prefix_not_in_the_developers_queue(
    redis_connection, task_queue
):
    developers_queue = app.conf.task_default_queue  # what `make run`'s worker consumes
    before = redis_connection.llen(developers_queue)

    app.send_task("portfolio.tasks.compute_index", kwargs={"index_id": 0})

    assert redis_connection.llen(developers_queue) == before
    assert task_queue.tasks() == [("portfolio.tasks.compute_index", {"index_id": 0})]
    assert task_queue.key.startswith(settings.CELERY_TEST_KEY_PREFIX)


def test_the_end_of_the_run_deletes_every_key_the_run_left_in_the_broker(redis_connection):
    app.send_task("portfolio.tasks.compute_index", kwargs={"index_id": 0})
    assert list(redis_connection.scan_iter(match=f"{settings.CELERY_TEST_KEY_PREFIX}*"))

    deleted = run_broker_keys_delete()

    assert deleted >= 1
    assert list(redis_connection.scan_iter(match=f"{settings.CELERY_TEST_KEY_PREFIX}*")) == []
