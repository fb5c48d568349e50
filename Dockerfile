# syntax=docker/dockerfile:1
# AutoIndex: one image for the three processes of the Procfile (web, worker, beat).

# --- build: compile wheels for the pinned production requirements ---
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/ /src/requirements/
RUN pip wheel --wheel-dir /wheels -r /src/requirements/prod.txt

# --- assets: front-end libraries from their npm packages (package-lock.json), collected below ---
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json /src/
RUN npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

# --- runtime: no compilers, non-root user ---
FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    WEB_BIND=0.0.0.0:8000
RUN groupadd --system autoindex && useradd --system --gid autoindex --home /app autoindex \
    && install -d -o autoindex -g autoindex /var/lib/autoindex
# pg_dump / pg_restore for `manage.py backup`, `backup_verify` and `restore`: the client must be
# at least the server's major version (compose runs PostgreSQL 16), so it comes from the
# PostgreSQL project's own Debian repository.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] \
https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update && apt-get install -y --no-install-recommends postgresql-client-16 \
    && apt-get purge -y curl && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels /wheels/* && rm -rf /wheels
WORKDIR /app
COPY --chown=autoindex:autoindex . /app
COPY --from=assets /src/node_modules /app/node_modules
# collectstatic needs settings that load; these placeholders never reach a running container.
RUN SECRET_KEY=build-only ALLOWED_HOSTS=build DATABASE_URL=postgres://build/build \
    REDIS_URL=redis://build:6379/0 python manage.py collectstatic --no-input
USER autoindex
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live').status != 200)"
# Same command as the Procfile's web process; compose overrides it for worker and beat.
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application"]
