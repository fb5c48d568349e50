"""Moving backup files between a local temporary folder and the backup storage, hashing them.

Every copy goes through :func:`digest_copy`, so the SHA-256 recorded at backup time and the one
checked at verify/restore time are computed the same way, over the bytes as they pass.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage

from .errors import BackupError, BackupNotFound

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class FileDigest:
    size: int
    sha256: str


def digest_copy(source: IO[bytes], target: IO[bytes]) -> FileDigest:
    """Copy ``source`` to ``target`` block by block; the size and SHA-256 of what was copied."""
    digest = hashlib.sha256()
    size = 0
    for block in iter(lambda: source.read(CHUNK_BYTES), b""):
        digest.update(block)
        target.write(block)
        size += len(block)
    return FileDigest(size=size, sha256=digest.hexdigest())


def _save(storage: Storage, key: str, content: File[Any]) -> str:
    """Store ``content`` as ``key``; :class:`BackupError` if the storage renamed it (a file of
    that name already existed: a backup is never overwritten)."""
    saved = storage.save(key, content)
    if saved != key:
        storage.delete(saved)
        raise BackupError(f"{key} already exists in the backup storage; nothing overwritten")
    return saved


def file_upload(storage: Storage, key: str, path: Path) -> str:
    """Store the local file ``path`` as ``key``."""
    with path.open("rb") as handle:
        return _save(storage, key, File(handle, name=key))


def file_download(storage: Storage, key: str, path: Path) -> FileDigest:
    """Copy the stored ``key`` to the local ``path``; its size and SHA-256."""
    if not storage.exists(key):
        raise BackupNotFound(f"{key} is not in the backup storage")
    with storage.open(key, "rb") as source, path.open("wb") as target:
        return digest_copy(source, target)


def json_upload(storage: Storage, key: str, data: dict[str, Any]) -> str:
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    return _save(storage, key, ContentFile(text.encode(), name=key))


def json_download(storage: Storage, key: str) -> dict[str, Any]:
    if not storage.exists(key):
        raise BackupNotFound(f"{key} is not in the backup storage")
    with storage.open(key, "rb") as handle:
        try:
            data = json.loads(handle.read())
        except ValueError as error:
            raise BackupError(f"{key} is not a readable manifest: {error}") from error
    if not isinstance(data, dict):
        raise BackupError(f"{key} is not a readable manifest: not a JSON object")
    return data
