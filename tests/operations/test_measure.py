"""``backup_figures``: the benchmark's figures of one backup and its verification, taken in a
folder of the caller's, leaving the configured backup storage alone."""

from __future__ import annotations

from operations.backups.measure import backup_figures
from operations.models import Backup
from tests.operations.conftest import BACKUP_DB

pytestmark = BACKUP_DB


def test_figures_of_a_verified_backup_in_the_callers_folder(backup_dir, tmp_path):
    folder = tmp_path / "bench"

    figures = backup_figures(folder=folder)

    backup = Backup.objects.get()
    assert backup.verification_status == Backup.Verification.OK
    assert [(figure["name"], figure["unit"]) for figure in figures] == [
        ("backup.size", "bytes"),
        ("backup.seconds", "s"),
        ("backup.verify_seconds", "s"),
        ("backup.tables", "tables"),
        ("backup.rows", "rows"),
    ]
    values = {figure["name"]: figure["value"] for figure in figures}
    assert values["backup.size"] == backup.size_bytes == (folder / backup.dump_key).stat().st_size
    assert values["backup.rows"] == backup.manifest["totals"]["rows"]
    assert values["backup.seconds"] > 0
    assert values["backup.verify_seconds"] > 0
    assert not backup_dir.exists()
