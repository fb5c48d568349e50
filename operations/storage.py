"""The backup storage: one Django ``Storage`` for a local folder and for S3, so that backup,
verification, retention and restore have a single code path (save, open, exists, delete).

- ``BACKUP_STORAGE=local`` (default): ``FileSystemStorage`` on ``BACKUP_DIR``; files are
  ``0600`` and folders ``0700`` (a dump holds every table, password hashes included).
- ``BACKUP_STORAGE=s3``: django-storages' ``S3Storage`` on ``BACKUP_S3_BUCKET`` under
  ``BACKUP_S3_PREFIX``, any S3-compatible store through ``BACKUP_S3_ENDPOINT_URL``; without
  ``BACKUP_S3_ACCESS_KEY_ID``/``…SECRET_ACCESS_KEY`` boto3's usual chain applies (environment,
  instance role). Objects are never overwritten (``file_overwrite=False``) and never public.

Why django-storages and not django-dbbackup: dbbackup wraps pg_dump and a storage, but not what
a backup here must be — a custom-format dump taken in an exported snapshot with exact per-table
row counts, a manifest with the migration state and the published runs, and a verification by
restoring into a scratch database. Its own settings, file naming and cleanup would sit beside
ours without covering them; django-storages is only the storage layer, which is all we need.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, Storage
from storages.backends.s3 import S3Storage

STORAGE_KINDS = ("local", "s3")
# What a storage operation raises when the folder or the bucket fails it (disk, network, auth).
STORAGE_ERRORS = (OSError, BotoCoreError, ClientError)


def backup_storage() -> Storage:
    """The storage ``BACKUP_STORAGE`` names; ``ImproperlyConfigured`` when it cannot be built."""
    kind = settings.BACKUP_STORAGE
    if kind == "local":
        return FileSystemStorage(
            location=settings.BACKUP_DIR,
            file_permissions_mode=0o600,
            directory_permissions_mode=0o700,
        )
    if kind == "s3":
        if not settings.BACKUP_S3_BUCKET:
            raise ImproperlyConfigured("BACKUP_STORAGE is s3 but BACKUP_S3_BUCKET is not set")
        return S3Storage(
            bucket_name=settings.BACKUP_S3_BUCKET,
            location=settings.BACKUP_S3_PREFIX.strip("/"),
            endpoint_url=settings.BACKUP_S3_ENDPOINT_URL,
            region_name=settings.BACKUP_S3_REGION,
            access_key=settings.BACKUP_S3_ACCESS_KEY_ID,
            secret_key=settings.BACKUP_S3_SECRET_ACCESS_KEY,
            file_overwrite=False,
            default_acl=None,
            querystring_auth=True,
        )
    kinds = ", ".join(STORAGE_KINDS)
    raise ImproperlyConfigured(f"BACKUP_STORAGE must be one of {kinds}, not {kind!r}")


def backup_location() -> str:
    """Where ``backup_storage()`` keeps files, for people (no credentials)."""
    if settings.BACKUP_STORAGE == "s3":
        prefix = settings.BACKUP_S3_PREFIX.strip("/")
        return f"s3://{settings.BACKUP_S3_BUCKET}/{prefix}".rstrip("/")
    return str(settings.BACKUP_DIR)
