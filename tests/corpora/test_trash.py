"""The trash (corpora/trash.py, docs/trash.md): deleting moves images and corpora there, they are
invisible everywhere meanwhile, restoring brings back files and vectors as they were (no
re-encoding), and the expiry task or "empty the trash" purges them."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from corpora import cleanup, selectors, services, tasks, trash
from corpora.models import Corpus, CorpusStatus, ImageRecord, ImageStatus, Visibility
from crier_site.errors import Conflict, NotFound
from search import services as search_services
from search.encoding import job as encoding
from search.indices import build as indexing
from search.selectors import as_vector
from search.text.ranking import text_search
from tests.factories import (
    add_vector_records,
    described_record,
    image_bytes,
    index_of,
    make_corpus,
    make_record,
    stored_vector,
)

pytestmark = pytest.mark.django_db


def searchable(owner, name: str = "holiday", count: int = 4) -> tuple[Corpus, list[ImageRecord]]:
    corpus = make_corpus(owner, name)
    records = [
        make_record(corpus, data=image_bytes(seed=seed), name=f"{seed}.png")
        for seed in range(count)
    ]
    encoding.encode_corpus(corpus_id=corpus.pk)
    corpus.refresh_from_db()
    return corpus, [ImageRecord.all_objects.get(pk=record.pk) for record in records]


def hit_ids(corpus: Corpus, record: ImageRecord) -> list[int]:
    corpus.refresh_from_db()
    query = as_vector(stored_vector(record.pk).vector)
    result = search_services.search_vectors(corpus=corpus, query=query, k=10)
    return [hit.record_id for hit in result.hits]


def indexed_ids(corpus: Corpus) -> set[int]:
    corpus.refresh_from_db()
    index = indexing._load_live(corpus)
    ids = set(index.record_ids[index.record_ids >= 0].tolist()) | set(index.delta_ids.tolist())
    return ids


# --- images --------------------------------------------------------------------------------------


def test_a_deleted_image_goes_to_the_trash_with_its_file_and_vector(user, counting_encoder):
    corpus, records = searchable(user)
    gone = records[0]
    vector, path = stored_vector(gone).vector, Path(gone.file.path)

    assert services.delete_images(corpus=corpus, image_ids=[gone.pk]) == 1

    assert not corpus.images.filter(pk=gone.pk).exists()
    assert not ImageRecord.objects.filter(pk=gone.pk).exists()
    kept = ImageRecord.all_objects.get(pk=gone.pk)
    assert kept.trashed_at is not None and bytes(stored_vector(kept).vector) == bytes(vector)
    assert kept.status == ImageStatus.ENCODED and path.is_file()
    assert selectors.corpus_counts(corpus=corpus).total == 3
    assert Corpus.objects.with_counts().get(pk=corpus.pk).image_count == 3
    corpus.refresh_from_db()
    assert index_of(corpus).stale and corpus.status == CorpusStatus.INDEXING


def test_search_never_shows_an_image_in_the_trash_and_the_index_drops_it(user, counting_encoder):
    corpus, records = searchable(user)
    gone = records[1]
    assert gone.pk in hit_ids(corpus, gone)

    services.delete_images(corpus=corpus, image_ids=[gone.pk])
    # At once, before the index is rebuilt: the hit is dropped like a deleted record's.
    assert gone.pk not in hit_ids(corpus, gone)
    encoding.encode_corpus(corpus_id=corpus.pk)  # the task the deletion enqueued
    assert gone.pk not in indexed_ids(corpus) and len(indexed_ids(corpus)) == 3
    assert gone.pk not in hit_ids(corpus, gone)
    with pytest.raises(NotFound):
        selectors.get_image(corpus=corpus, image_id=gone.pk)


def test_a_restored_image_comes_back_as_it_was_without_encoding_again(user, counting_encoder):
    corpus, records = searchable(user)
    gone = records[2]
    vector = stored_vector(gone).vector
    encoded_before = counting_encoder.rows
    services.delete_images(corpus=corpus, image_ids=[gone.pk])
    encoding.encode_corpus(corpus_id=corpus.pk)

    records_back = trash.trashed_images(owner=user, image_ids=[gone.pk])
    assert trash.restore_images(records=records_back) == 1
    outcome = encoding.encode_corpus(corpus_id=corpus.pk)

    back = ImageRecord.objects.get(pk=gone.pk)
    assert back.trashed_at is None and bytes(stored_vector(back).vector) == bytes(vector)
    assert back.status == ImageStatus.ENCODED and Path(back.file.path).is_file()
    assert counting_encoder.rows == encoded_before and outcome.encoded == 0  # no re-encoding
    assert gone.pk in indexed_ids(corpus)
    assert hit_ids(corpus, gone)[0] == gone.pk
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY


def test_uploading_an_image_in_the_trash_again_restores_it(user):
    corpus = make_corpus(user)
    data = image_bytes(seed=5)
    first = services.ingest_files(corpus=corpus, files=[("a.png", io.BytesIO(data))])
    (record,) = first.accepted
    services.delete_images(corpus=corpus, image_ids=[record.pk])

    again = services.ingest_files(corpus=corpus, files=[("copy.png", io.BytesIO(data))])

    assert [r.pk for r in again.accepted] == [record.pk] and again.duplicates == []
    assert ImageRecord.all_objects.filter(corpus=corpus).count() == 1
    restored = ImageRecord.objects.get(pk=record.pk)
    assert restored.trashed_at is None and restored.original_filename == "a.png"
    corpus.refresh_from_db()
    assert index_of(corpus).stale


def test_only_the_owners_images_in_the_trash_can_be_found_there(user, other_user):
    mine, theirs = make_corpus(user), make_corpus(other_user, "theirs")
    a, b = make_record(mine, name="a.png"), make_record(theirs, name="b.png")
    live = make_record(mine, name="live.png")
    services.delete_images(corpus=mine, image_ids=[a.pk])
    services.delete_images(corpus=theirs, image_ids=[b.pk])
    assert [r.pk for r in trash.trashed_images(owner=user, image_ids=[a.pk, b.pk, live.pk])] == [
        a.pk
    ]
    with pytest.raises(NotFound):
        trash.trashed_image(owner=user, image_id=b.pk)
    assert [r.pk for r in trash.trash_of(owner=user).images] == [a.pk]


# --- corpora -------------------------------------------------------------------------------------


def test_a_deleted_corpus_is_invisible_everywhere_until_restored(
    user, other_user, django_user_model
):
    corpus = make_corpus(user, visibility=Visibility.PUBLIC)
    described_record(corpus, "dog.jpg", tags=["dog"])
    staff = django_user_model.objects.create_user("staff", password="x-long-pass-1", is_staff=True)
    services.delete_corpus(corpus=corpus)

    assert corpus.pk not in selectors.owned_corpora(user=user).values_list("pk", flat=True)
    for who in (user, other_user, staff, None):
        assert not selectors.visible_corpora(user=who).filter(pk=corpus.pk).exists()
        with pytest.raises(NotFound):
            selectors.get_readable_corpus(user=who, corpus_id=corpus.pk)
    assert corpus not in list(selectors.searchable_public_corpora())
    found = text_search(corpora=selectors.visible_corpora(user=user), q="dog")
    assert found.hits == []

    trash.restore_corpus(corpus=corpus)
    assert selectors.get_readable_corpus(user=other_user, corpus_id=corpus.pk) == corpus
    assert len(text_search(corpora=selectors.visible_corpora(user=user), q="dog").hits) == 1


def test_a_corpus_in_the_trash_leaves_its_name_free_and_comes_back_renamed(user):
    old = make_corpus(user, "holiday")
    services.delete_corpus(corpus=old)
    new = services.create_corpus(owner=user, name="holiday")
    with pytest.raises(Conflict):
        services.create_corpus(owner=user, name="holiday")

    restored = trash.restore_corpus(corpus=trash.trashed_corpus(owner=user, corpus_id=old.pk))

    assert restored.name == "holiday (restored)" and restored.trashed_at is None
    assert set(Corpus.objects.filter(owner=user).values_list("name", flat=True)) == {
        "holiday",
        "holiday (restored)",
    }
    services.delete_corpus(corpus=new)
    services.delete_corpus(corpus=restored)
    third = services.create_corpus(owner=user, name="holiday (restored)")
    again = trash.restore_corpus(corpus=Corpus.objects.get(pk=restored.pk))
    assert again.name == "holiday (restored) (restored)" and third.name == "holiday (restored)"
    assert trash.restore_corpus(corpus=Corpus.objects.get(pk=new.pk)).name == "holiday"


def test_a_restored_corpus_is_searched_as_before(user):
    corpus, records = searchable(user)
    version = index_of(corpus).version
    services.delete_corpus(corpus=corpus)
    files = [Path(record.file.path) for record in records]
    for path in files:
        age(path, 10 * 3600)
    cleanup.sweep_orphans(grace_seconds=0)  # the hourly sweep leaves it all in place
    assert (indexing.index_root(corpus.pk) / version).is_dir()
    assert all(path.is_file() for path in files)
    trash.restore_corpus(corpus=corpus)
    corpus.refresh_from_db()
    assert index_of(corpus).version == version
    assert hit_ids(corpus, records[0])[0] == records[0].pk


def test_trashed_corpora_are_the_owners_only(user, other_user):
    corpus = make_corpus(user)
    services.delete_corpus(corpus=corpus)
    with pytest.raises(NotFound):
        trash.trashed_corpus(owner=other_user, corpus_id=corpus.pk)
    live = make_corpus(user, "live")
    with pytest.raises(NotFound):
        trash.trashed_corpus(owner=user, corpus_id=live.pk)
    assert [c.pk for c in trash.trash_of(owner=user).corpora] == [corpus.pk]
    assert trash.trash_of(owner=other_user).is_empty


# --- purging -------------------------------------------------------------------------------------


def age(path: Path, seconds: int) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


@pytest.mark.django_db(transaction=True)
def test_the_expiry_task_purges_what_is_older_than_the_period(user, settings):
    settings.CRIER_TRASH_DAYS = 30
    old_corpus, old_records = searchable(user, "old", count=2)
    corpus, records = searchable(user, "kept", count=3)
    old_image, new_image = records[0], records[1]
    services.delete_corpus(corpus=old_corpus)
    services.delete_images(corpus=corpus, image_ids=[old_image.pk, new_image.pk])
    month_ago = timezone.now() - timedelta(days=30, minutes=1)
    Corpus.objects.filter(pk=old_corpus.pk).update(trashed_at=month_ago)
    ImageRecord.all_objects.filter(pk=old_image.pk).update(trashed_at=month_ago)
    old_files = [Path(r.file.path) for r in old_records] + [Path(old_image.file.path)]

    message = tasks.expire_corpora()

    assert "purged 1 corpora and 1 images" in message
    assert not Corpus.objects.filter(pk=old_corpus.pk).exists()
    assert not ImageRecord.all_objects.filter(pk__in=[r.pk for r in old_records]).exists()
    assert not ImageRecord.all_objects.filter(pk=old_image.pk).exists()
    assert not any(path.exists() for path in old_files)
    assert not indexing.index_root(old_corpus.pk).exists()
    assert ImageRecord.all_objects.get(pk=new_image.pk).trashed_at is not None
    assert Path(new_image.file.path).is_file()


def test_the_period_is_a_setting(user, settings):
    corpus = make_corpus(user)
    record = make_record(corpus)
    services.delete_images(corpus=corpus, image_ids=[record.pk])
    settings.CRIER_TRASH_DAYS = 2
    assert trash.purge_expired_trash(now=timezone.now() + timedelta(days=1)).images == 0
    assert trash.purge_expired_trash(now=timezone.now() + timedelta(days=2, seconds=1)).images == 1
    item = ImageRecord.all_objects.filter(pk=record.pk)
    assert not item.exists()
    assert trash.purge_time(timezone.now()) > timezone.now() + timedelta(days=1, hours=23)


@pytest.mark.django_db(transaction=True)
def test_emptying_the_trash_deletes_the_owners_trash_at_once(user, other_user):
    mine, records = searchable(user, "mine", count=2)
    kept = make_corpus(user, "kept")
    image = make_record(kept, name="x.png")
    theirs = make_corpus(other_user, "theirs")
    their_image = make_record(theirs, name="y.png")
    services.delete_corpus(corpus=mine)
    services.delete_images(corpus=kept, image_ids=[image.pk])
    services.delete_images(corpus=theirs, image_ids=[their_image.pk])
    files = [Path(r.file.path) for r in records] + [Path(image.file.path)]

    purged = trash.empty_trash(owner=user)

    assert (purged.corpora, purged.images) == (1, 1)
    assert not Corpus.objects.filter(pk=mine.pk).exists()
    assert not ImageRecord.all_objects.filter(pk=image.pk).exists()
    assert not any(path.exists() for path in files)
    assert ImageRecord.all_objects.filter(pk=their_image.pk).exists()
    assert trash.trash_of(owner=user).is_empty and Corpus.objects.filter(pk=kept.pk).exists()


def test_the_orphan_sweep_keeps_the_files_of_images_in_the_trash(user):
    corpus = make_corpus(user)
    record = make_record(corpus)
    services.delete_images(corpus=corpus, image_ids=[record.pk])
    path = Path(record.file.path)
    age(path, 10 * 3600)
    removed = cleanup.sweep_orphan_files(grace_seconds=0)
    assert path not in removed and path.is_file()


def test_importing_by_name_never_fills_a_corpus_in_the_trash(user, tmp_path):
    from django.core.management import CommandError, call_command

    old = make_corpus(user, "scans")
    services.delete_corpus(corpus=old)
    (tmp_path / "a.png").write_bytes(image_bytes(seed=3))
    with pytest.raises(CommandError, match="no corpus named"):
        call_command("import_images", str(tmp_path), corpus="scans", owner=user.username)
    call_command(
        "import_images", str(tmp_path), corpus="scans", owner=user.username, create=True,
        no_progress=True,
    )  # fmt: skip
    new = Corpus.objects.live().get(owner=user, name="scans")
    assert new.pk != old.pk and new.images.count() == 1
    assert not ImageRecord.all_objects.filter(corpus=old).exists()



@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_live_lookups_never_read_the_trash_index(user):
    """The trash indexes are partial (only rows in the trash): a lookup of live rows by id, as
    search's hits are read, never reads them, even before the table is analysed. With a plain
    index on ``trashed_at`` the planner took it for ``trashed_at IS NULL`` and read every live
    row of the table (docs/benchmarks.md, "Refactor check")."""
    for name in ("one", "two", "three", "four"):
        add_vector_records(make_corpus(user, name), None, n=2000)
    corpus = make_corpus(user)
    ids = [record.pk for record in add_vector_records(corpus, None, n=2000)]
    wanted = ImageRecord.objects.filter(corpus=corpus, pk__in=ids[::200])
    plan = wanted.explain()
    assert "trashed_at_" not in plan and "in_trash" not in plan, plan
    assert wanted.count() == 10
