from __future__ import annotations

import pytest

from corpora import services
from corpora.models import CorpusStatus
from tests.factories import index_of, make_corpus, make_record

pytestmark = pytest.mark.django_db


def test_deleting_by_id_deletes_the_corpus_images_and_names_the_others(user, other_user):
    corpus, elsewhere = make_corpus(user), make_corpus(other_user, name="theirs")
    mine = [make_record(corpus, name=name) for name in ("a.png", "bb.png", "ccc.png")]
    theirs = make_record(elsewhere, name="x.png")

    deletion = services.delete_images_by_id(
        corpus=corpus, image_ids=[mine[0].pk, mine[2].pk, theirs.pk, 999_999, mine[0].pk]
    )

    assert deletion.deleted == 2
    assert deletion.not_found == sorted([theirs.pk, 999_999])
    assert list(corpus.images.values_list("pk", flat=True)) == [mine[1].pk]
    assert elsewhere.images.count() == 1
    corpus.refresh_from_db()
    assert index_of(corpus).stale and corpus.status == CorpusStatus.INDEXING


def test_deleting_nothing_that_exists_changes_nothing(user):
    corpus = make_corpus(user)
    deletion = services.delete_images_by_id(corpus=corpus, image_ids=[123])
    assert (deletion.deleted, deletion.not_found) == (0, [123])
    corpus.refresh_from_db()
    assert not index_of(corpus).stale
