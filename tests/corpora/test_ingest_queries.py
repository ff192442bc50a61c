"""An upload makes as many database round trips per image as before the trash and search's
own tables (708a49f, #21): the one lookup of the same bytes (live or in the trash) and the
insert in its savepoint. Under load each round trip costs ~20 ms (docs/benchmarks.md,
"Refactor check"); this fails if a second lookup per file comes back."""

from __future__ import annotations

import io

import pytest

from corpora import services, trash
from corpora.models import ImageRecord
from tests.factories import image_bytes, make_corpus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("histogram_by_default")]

PER_IMAGE = 4  # the same bytes, live or in the trash; SAVEPOINT, INSERT, RELEASE


def _jpegs(seeds) -> list[tuple[str, io.BytesIO]]:
    return [(f"{s}.jpg", io.BytesIO(image_bytes(fmt="JPEG", seed=s))) for s in seeds]


def test_each_stored_image_costs_four_queries(user, django_assert_num_queries):
    corpus = make_corpus(user)
    with django_assert_num_queries(PER_IMAGE * 5 + 1):  # + the corpus turning "indexing"
        report = services.ingest_files(corpus=corpus, files=_jpegs(range(5)), enqueue=False)
    assert len(report.accepted) == 5
    with django_assert_num_queries(PER_IMAGE * 3):  # already "indexing"
        report = services.ingest_files(corpus=corpus, files=_jpegs(range(5, 8)), enqueue=False)
    assert len(report.accepted) == 3


def test_one_lookup_tells_a_duplicate_from_an_image_in_the_trash(user, django_assert_num_queries):
    corpus = make_corpus(user)
    services.ingest_files(corpus=corpus, files=_jpegs([1, 2]), enqueue=False)
    in_trash = corpus.images.get(original_filename="2.jpg")
    trash.trash_images(corpus=corpus, image_ids=[in_trash.pk])
    with django_assert_num_queries(1):  # a live duplicate: its lookup only
        report = services.ingest_files(corpus=corpus, files=_jpegs([1]), enqueue=False)
    assert [d.existing_id for d in report.duplicates] == [corpus.images.get().pk]
    report = services.ingest_files(corpus=corpus, files=_jpegs([2]), enqueue=False)
    assert [r.pk for r in report.accepted] == [in_trash.pk]
    assert ImageRecord.objects.get(pk=in_trash.pk).trashed_at is None
