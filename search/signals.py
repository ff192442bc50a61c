"""Keep index dirs in step with corpus rows, whoever deletes them (services, admin, cascades)."""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from corpora.models import Corpus
from search.indexing import drop_index


@receiver(post_delete, sender=Corpus, dispatch_uid="search.drop_index_on_corpus_delete")
def drop_index_on_corpus_delete(sender, instance: Corpus, **kwargs) -> None:
    # On commit: a rolled-back delete must keep its index.
    transaction.on_commit(partial(drop_index, corpus_id=instance.pk))
