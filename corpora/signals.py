"""What corpora tells other apps, and how files follow their rows.

``corpora`` never imports ``search``. When a corpus needs vectors or a fresh index, or when the
hourly sweep runs, it sends one of the signals below; the ``search`` app connects receivers
(``search/signals.py``) that do the vector work.

Files follow their rows: when an ImageRecord row is deleted (directly, by a queryset, or by a
corpus cascade), its file is removed once the transaction commits, so a rollback loses nothing.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import Signal, receiver

from corpora import model_inputs
from corpora.models import ImageRecord

# The corpus ``corpus_id`` has pending images or a stale index. Receivers index it: in the
# background once the current transaction commits, or at once when ``synchronous`` is true,
# answering a one-line summary of what they did (or None).
indexing_requested = Signal()

# The orphan sweep is running: receivers remove what they own that no row refers to any more
# (e.g. index directories) and answer the list of removed paths.
sweep_requested = Signal()


@receiver(post_delete, sender=ImageRecord, dispatch_uid="corpora.delete_image_file")
def delete_image_file(sender, instance: ImageRecord, using: str, **kwargs) -> None:
    """The original, its thumbnail and its model input (if still there) go with the row."""
    for field in (instance.file, instance.thumbnail):
        if field:
            storage, name = field.storage, field.name
            transaction.on_commit(lambda s=storage, n=name: s.delete(n), using=using)
    if instance.file:
        storage, name = instance.file.storage, instance.file.name
        transaction.on_commit(lambda: model_inputs.delete(storage, name), using=using)
