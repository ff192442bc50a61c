"""The search app's side of what corpora signals: index a corpus that needs it, sweep orphan
index directories, and keep index dirs in step with corpus rows, whoever deletes them
(services, admin, cascades). corpora never imports search; these receivers are the link."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django_q.tasks import async_task

from corpora.models import Corpus, ImageRecord
from corpora.signals import (
    index_facts_requested,
    indexing_requested,
    labels_requested,
    sweep_requested,
)
from search.encoding import job, model_inputs
from search.indices.build import drop_index, sweep_orphan_index_dirs
from search.models import CorpusIndex
from search.selectors import image_labels, index_facts
from search.tasks import ENCODE_TASK

logger = logging.getLogger(__name__)


@receiver(indexing_requested, dispatch_uid="search.index_on_request")
def index_on_request(
    sender, corpus_id: int, synchronous: bool = False, stale: bool = False, **kwargs
) -> str | None:
    if stale:
        CorpusIndex.of(corpus_id)
        CorpusIndex.objects.filter(pk=corpus_id).update(stale=True)
    if synchronous:
        return job.encode_corpus(corpus_id=corpus_id).summary
    # ONE task per request, enqueued once the images it is about are committed. Robust: a
    # broker that cannot take it (Redis or the database down) is logged, not raised into the
    # request whose writes are committed already; the every-minute recovery
    # (search.encoding.recovery) finds the corpus's pending images or stale index instead.
    transaction.on_commit(
        lambda: async_task(ENCODE_TASK, corpus_id, task_name=f"encode-corpus-{corpus_id}"),
        robust=True,
    )
    return None


@receiver(labels_requested, dispatch_uid="search.image_labels")
def labels_of_images(sender, record_ids: list[int], **kwargs) -> dict[int, list[dict]]:
    return image_labels(record_ids)


@receiver(index_facts_requested, dispatch_uid="search.index_facts")
def facts_of_indices(sender, corpus_ids: list[int], **kwargs) -> dict[int, dict]:
    return index_facts(corpus_ids)


@receiver(sweep_requested, dispatch_uid="search.sweep_orphan_index_dirs")
def sweep_index_dirs(sender, **kwargs) -> list[Path]:
    return sweep_orphan_index_dirs()


@receiver(post_delete, sender=ImageRecord, dispatch_uid="search.delete_model_input")
def delete_model_input(sender, instance: ImageRecord, using: str, **kwargs) -> None:
    """An image's model input (if the job has not used it yet) goes with the row, on commit."""
    if instance.file:
        storage, name = instance.file.storage, instance.file.name
        transaction.on_commit(partial(_remove_model_input, storage, name), using=using)


def _remove_model_input(storage, name: str) -> None:
    try:
        model_inputs.delete(storage, name)
    except OSError as exc:  # the orphan sweep removes it later
        logger.warning("the model input of %s is left for the orphan sweep: %s", name, exc)


@receiver(post_delete, sender=Corpus, dispatch_uid="search.drop_index_on_corpus_delete")
def drop_index_on_corpus_delete(sender, instance: Corpus, **kwargs) -> None:
    # On commit: a rolled-back delete must keep its index.
    transaction.on_commit(partial(drop_index, corpus_id=instance.pk))
