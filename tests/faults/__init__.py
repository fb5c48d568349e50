"""Fault suite: the live stack (gunicorn, PostgreSQL, Redis) with dependencies stopped under it."""
