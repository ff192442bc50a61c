from __future__ import annotations

from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from corpora.models import Corpus, ImageRecord
from tests.factories import image_bytes, make_corpus, make_record

pytestmark = pytest.mark.django_db(transaction=True)


def test_same_bytes_twice_in_one_corpus_is_rejected(user):
    corpus = make_corpus(user)
    data = image_bytes(seed=1)
    make_record(corpus, data, name="first.png")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_record(corpus, data, name="second.png")
    assert corpus.images.count() == 1


def test_same_bytes_in_two_corpora_is_allowed(user, other_user):
    data = image_bytes(seed=2)
    make_record(make_corpus(user, "mine"), data)
    make_record(make_corpus(other_user, "theirs"), data)
    assert ImageRecord.objects.filter(sha256=ImageRecord.objects.first().sha256).count() == 2


def test_file_is_stored_under_a_generated_name(user):
    record = make_record(make_corpus(user), name="../../etc/passwd name.PNG")
    stored = Path(record.file.name)
    assert "passwd" not in stored.name
    assert stored.suffix == ".png"
    assert stored.parts[:2] == ("corpora", str(record.corpus_id))


def test_deleting_a_corpus_removes_records_and_files(user):
    corpus = make_corpus(user)
    paths = [
        Path(make_record(corpus, image_bytes(seed=i), name=f"{i}.png").file.path) for i in range(3)
    ]
    assert all(path.exists() for path in paths)
    keep = make_record(make_corpus(user, "other"), image_bytes(seed=99))

    corpus.delete()

    assert not ImageRecord.objects.filter(corpus_id=corpus.pk).exists()
    assert not any(path.exists() for path in paths)
    assert Path(keep.file.path).exists()


def test_deleting_a_record_removes_its_file(user):
    record = make_record(make_corpus(user))
    path = Path(record.file.path)
    record.delete()
    assert not path.exists()


def test_rolled_back_delete_keeps_the_file(user):
    record = make_record(make_corpus(user))
    path, pk = Path(record.file.path), record.pk
    with pytest.raises(RuntimeError), transaction.atomic():
        record.delete()
        raise RuntimeError("abort")
    assert path.exists()
    assert ImageRecord.objects.filter(pk=pk).exists()


def test_corpus_names_are_unique_per_owner(user, other_user):
    make_corpus(user, "shared name")
    make_corpus(other_user, "shared name")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_corpus(user, "shared name")
    assert Corpus.objects.count() == 2


def test_visibility_queries(user, other_user):
    mine = make_corpus(user, "mine")
    public = make_corpus(other_user, "public", visibility="public")
    make_corpus(other_user, "private")
    assert set(Corpus.objects.visible_to(user)) == {mine, public}
    assert set(Corpus.objects.owned_by(user)) == {mine}
