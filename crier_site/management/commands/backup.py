"""``manage.py backup DEST``: a consistent backup of the running site (crier_site/backups.py)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from crier_site.backups import BackupError, backup


class Command(BaseCommand):
    help = (
        "Write a backup of the database (one snapshot), the media files its rows refer to and "
        "the live indices, with a manifest of SHA-256 checksums, into DEST (a new folder). "
        "Safe while the site runs."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("dest", type=Path, help="a folder that does not exist yet")

    def handle(self, *args, dest: Path, **options) -> None:
        try:
            manifest = backup(dest)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        size = sum(entry["bytes"] for entry in manifest.files.values())
        self.stdout.write(
            f"Backup of {manifest.vendor} written to {dest}: {len(manifest.files)} files, "
            f"{size / 2**20:.1f} MiB, {len(manifest.index_versions)} indices"
            + (
                f", {len(manifest.dropped)} rows left out (deleted meanwhile)"
                if manifest.dropped
                else ""
            )
        )
