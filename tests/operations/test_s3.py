"""The same backups on S3-compatible storage (moto's real HTTP server on loopback): files under
the prefix, verification reading them back, retention deleting objects."""

from __future__ import annotations

import hashlib

from operations.backups import backup_create, backup_verify
from operations.models import Backup
from tests.operations.conftest import BACKUP_DB, S3_BUCKET, S3_PREFIX

pytestmark = BACKUP_DB


def keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=S3_BUCKET)["Contents"])


def test_backup_to_s3_verifies_and_retention_deletes_objects(s3_backups, settings):
    first = backup_create()

    assert keys(s3_backups) == [f"{S3_PREFIX}{first.name}.dump", f"{S3_PREFIX}{first.name}.json"]
    body = s3_backups.get_object(Bucket=S3_BUCKET, Key=f"{S3_PREFIX}{first.dump_key}")["Body"]
    assert hashlib.sha256(body.read()).hexdigest() == first.sha256
    assert (first.storage, first.location) == ("s3", f"s3://{S3_BUCKET}/nightly")
    verified = backup_verify(name=first.name)
    assert verified.verification_status == Backup.Verification.OK, verified.verification_error

    settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_WEEKLY = 1, 0
    Backup.objects.filter(pk=first.pk).update(verification_status="", verified_at=None)
    second = backup_create()  # the same day: the newer one is the day's backup

    assert second.retention["pruned"] == [first.name]
    assert keys(s3_backups) == [
        f"{S3_PREFIX}{second.name}.dump",
        f"{S3_PREFIX}{second.name}.json",
    ]
