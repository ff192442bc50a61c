"""Expiry of temporary corpora and the sweep of files left behind by crashes. (What has been in
the trash too long is purged by ``corpora.trash.purge_expired_trash``, from the same task.)"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import transaction

from corpora.models import Corpus, ImageRecord, ImageStatus
from corpora.signals import sweep_requested

logger = logging.getLogger(__name__)

# A file is written a moment before its row is committed; younger files are never orphans.
ORPHAN_GRACE_SECONDS = 3600


def delete_expired_corpora(*, now: datetime | None = None) -> list[int]:
    """Delete every corpus whose ``expires_at`` has passed, with its rows, files and index —
    for good, not into the trash (a temporary corpus was meant to go), in the trash or not."""
    deleted: list[int] = []
    for corpus in Corpus.objects.expired(now).only("pk", "name"):
        corpus_id = corpus.pk
        with transaction.atomic():
            corpus.delete()
        deleted.append(corpus_id)
        logger.info("Deleted expired corpus %s", corpus.name)
    return deleted


def sweep_orphans(*, grace_seconds: int = ORPHAN_GRACE_SECONDS) -> list[Path]:
    """Remove image files, and (through ``sweep_requested``) index directories, that no row
    refers to any more."""
    removed = sweep_orphan_files(grace_seconds=grace_seconds)
    for _, paths in sweep_requested.send(sender=Corpus):
        removed += paths or []
    return removed


def sweep_orphan_files(*, grace_seconds: int = ORPHAN_GRACE_SECONDS) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "corpora"
    if not root.is_dir():
        return []
    media_root = Path(settings.MEDIA_ROOT)
    live_corpora = set(Corpus.objects.values_list("pk", flat=True))
    cutoff = time.time() - grace_seconds
    removed: list[Path] = []
    for corpus_dir in root.iterdir():
        if not corpus_dir.is_dir() or corpus_dir.is_symlink():
            continue
        corpus_id = int(corpus_dir.name) if corpus_dir.name.isdigit() else None
        known = set()
        if corpus_id in live_corpora:
            rows = ImageRecord.all_objects.filter(corpus_id=corpus_id)  # the trash's too
            known = set(rows.values_list("file", flat=True))
            known |= set(rows.values_list("thumbnail", flat=True))
            # What other apps keep beside a pending image's file (search's model input) waits
            # for them, however long that takes.
            pending = rows.filter(status=ImageStatus.PENDING).values_list("file", flat=True)
            waiting = {PurePosixPath(name).stem for name in pending if name}
        else:
            waiting = set()
        for path in corpus_dir.iterdir():
            name = path.relative_to(media_root).as_posix()
            # (A temporary file is never waited for: a crashed write left it.)
            beside_pending = path.name.split(".", 1)[0] in waiting and path.suffix != ".tmp"
            if (
                path.is_file()
                and name not in known
                and not beside_pending
                and path.stat().st_mtime < cutoff
            ):
                path.unlink(missing_ok=True)
                removed.append(path)
        if corpus_id not in live_corpora and not any(corpus_dir.iterdir()):
            corpus_dir.rmdir()
            removed.append(corpus_dir)
    for path in removed:
        logger.info("Removed orphan %s", path)
    return removed
