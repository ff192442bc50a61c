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

from corpora.models import Corpus, ImageRecord

logger = logging.getLogger(__name__)

# The corpus ``corpus_id`` has pending images, or a stale index (``stale``: images were
# deleted, or a rebuild is wanted). Receivers index it: in the background once the current
# transaction commits, or at once when ``synchronous`` is true, answering a one-line summary
# of what they did (or None).
indexing_requested = Signal()

# Which labels did an encoder predict for the images ``record_ids``? Receivers answer a dict
# {image id: [{"label", "synonyms", "probability"}, ...]} (best first); corpora shows them
# (image page, API, export) without knowing where they are kept.
labels_requested = Signal()


# What is the state of the search index of the corpora ``corpus_ids``? Receivers answer a dict
# {corpus id: {"index_version": str, "indexed_count": int, ...}}; corpora shows it (API, pages).
index_facts_requested = Signal()


def index_facts(corpus_ids) -> dict[int, dict]:
    """The index facts of each of ``corpus_ids`` (from the receivers of
    ``index_facts_requested``); a corpus nobody answers for is left out."""
    ids = list(corpus_ids)
    found: dict[int, dict] = {}
    if ids:
        for _, answer in index_facts_requested.send(sender=Corpus, corpus_ids=ids):
            for corpus_id, facts in (answer or {}).items():
                found.setdefault(corpus_id, {}).update(facts)
    return found


def predicted_labels(record_ids) -> dict[int, list[dict]]:
    """The predicted labels of each of ``record_ids`` that has some (from the receivers of
    ``labels_requested``)."""
    ids = list(record_ids)
    found: dict[int, list[dict]] = {}
    if ids:
        for _, answer in labels_requested.send(sender=ImageRecord, record_ids=ids):
            found.update(answer or {})
    return found


# The orphan sweep is running: receivers remove what they own that no row refers to any more
# (e.g. index directories) and answer the list of removed paths.
sweep_requested = Signal()


@receiver(post_delete, sender=ImageRecord, dispatch_uid="corpora.delete_image_file")
def delete_image_file(sender, instance: ImageRecord, using: str, **kwargs) -> None:
    """The original and its thumbnail go with the row (what other apps keep beside the file,
    such as search's model input, they remove themselves).

    A file that cannot be removed (a read-only disk, an I/O error) never fails the delete: the
    row is gone, so the file is an orphan, and the hourly orphan sweep
    (``corpora.cleanup.sweep_orphan_files``) removes every file under ``media/corpora/`` that
    no row refers to once it is older than the sweep's grace period."""
    storage = instance.file.storage
    names = [field.name for field in (instance.file, instance.thumbnail) if field]
    for name in names:
        transaction.on_commit(partial(_remove_file, storage, name), using=using)


def _remove_file(storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError as exc:
        logger.warning("%s left for the orphan sweep: %s", name, exc)
