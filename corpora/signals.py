"""What corpora tells other apps, and how files follow their rows.

``corpora`` never imports ``search``. When a corpus needs vectors or a fresh index, or when the
hourly sweep runs, it sends one of the signals below; the ``search`` app connects receivers
(``search/signals.py``) that do the vector work.

Files follow their rows: when an ImageRecord row is deleted (directly, by a queryset, or by a
corpus cascade), its file is removed once the transaction commits, so a rollback loses nothing.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import Signal, receiver

from corpora import model_inputs
from corpora.models import ImageRecord

logger = logging.getLogger(__name__)

# The corpus ``corpus_id`` has pending images or a stale index. Receivers index it: in the
# background once the current transaction commits, or at once when ``synchronous`` is true,
# answering a one-line summary of what they did (or None).
indexing_requested = Signal()

# The orphan sweep is running: receivers remove what they own that no row refers to any more
# (e.g. index directories) and answer the list of removed paths.
sweep_requested = Signal()


@receiver(post_delete, sender=ImageRecord, dispatch_uid="corpora.delete_image_file")
def delete_image_file(sender, instance: ImageRecord, using: str, **kwargs) -> None:
    """The original, its thumbnail and its model input (if still there) go with the row.

    A file that cannot be removed (a read-only disk, an I/O error) never fails the delete: the
    row is gone, so the file is an orphan, and the hourly orphan sweep
    (``corpora.cleanup.sweep_orphan_files``) removes every file under ``media/corpora/`` that
    no row refers to once it is older than the sweep's grace period."""
    storage = instance.file.storage
    names = [field.name for field in (instance.file, instance.thumbnail) if field]
    if instance.file:
        names.append(model_inputs.input_name(instance.file.name))
    for name in names:
        transaction.on_commit(partial(_remove_file, storage, name), using=using)


def _remove_file(storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError as exc:
        logger.warning("%s left for the orphan sweep: %s", name, exc)
