"""``manage.py restore SRC``: a backup brought back into an empty site (crier_site/backups.py)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from crier_site.backups import BackupError, restore, verify


class Command(BaseCommand):
    help = (
        "Restore a backup written by `manage.py backup` into an empty database and empty media "
        "and index directories (migrate is run first). Every file's checksum is verified "
        "before anything is written."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", type=Path, help="the backup's folder")
        parser.add_argument(
            "--verify-only", action="store_true", help="check the checksums, restore nothing"
        )

    def handle(self, *args, source: Path, verify_only: bool, **options) -> None:
        try:
            manifest = verify(source) if verify_only else restore(source)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        done = "verified" if verify_only else "restored"
        self.stdout.write(
            f"Backup of {manifest.created_at} ({manifest.vendor}) {done}: "
            f"{len(manifest.files)} files, {len(manifest.index_versions)} indices"
        )
