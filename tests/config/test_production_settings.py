"""Production settings refuse insecure defaults and pass Django's deployment checks."""

import os
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "k3y-" + "x7Qp9LmZ2vB8nR4tW6yH1jF5dS0aG3cE" * 2,
    "ALLOWED_HOSTS": "api.autoindex.example",
    "DATABASE_URL": "postgres://autoindex@db.internal:5432/autoindex",
    "REDIS_URL": "redis://cache.internal:6379/0",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean_env = {key: value for key, value in os.environ.items() if key not in PRODUCTION_ENV}
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**clean_env, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_sane_values():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_startup_without_secret_key_fails_with_a_clear_message():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "Production settings need these environment variables: SECRET_KEY" in result.stderr


def test_every_missing_variable_is_named():
    result = _manage("check", env={"DJANGO_SETTINGS_MODULE": "config.settings.production"})
    assert result.returncode != 0
    assert "SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL" in result.stderr
