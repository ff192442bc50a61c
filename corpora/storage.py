"""Where uploaded files are written: Django's file system storage, but never a half file.

Django's ``FileSystemStorage`` writes straight into the final name, so a write that fails
midway (a full disk, an I/O error, a killed process) leaves a partial file that looks stored.
Here each file is written under a temporary name beside it (``<name>.<uuid>.tmp``), which is
removed if the write fails, and only a complete file gets its name (a hard link, so an existing
file is never replaced; a rename where the file system has no links). A temporary file left by
a killed process is referred to by no row, so the orphan sweep (``corpora.cleanup``) removes
it after its grace period.
"""

from __future__ import annotations

import contextlib
import os
import uuid

from django.core.files.storage import FileSystemStorage

TMP_SUFFIX = ".tmp"


class AtomicFileSystemStorage(FileSystemStorage):
    def _save(self, name: str, content) -> str:
        temporary = f"{name}.{uuid.uuid4().hex}{TMP_SUFFIX}"
        try:
            temporary = super()._save(temporary, content)
            while True:
                try:
                    _publish(self.path(temporary), self.path(name))
                    break
                except FileExistsError:
                    name = self.get_available_name(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(temporary))
        return os.path.relpath(self.path(name), self.location).replace("\\", "/")


def _publish(temporary: str, final: str) -> None:
    """Give the complete file ``temporary`` the name ``final``; FileExistsError if taken."""
    try:
        os.link(temporary, final)
    except FileExistsError:
        raise
    except OSError:
        # No hard links here (some network or FAT file systems): a rename, after a check.
        if os.path.lexists(final):
            raise FileExistsError(final) from None
        os.rename(temporary, final)
