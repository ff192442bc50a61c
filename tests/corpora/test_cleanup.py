from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from corpora import cleanup, services
from corpora.models import Corpus, ImageRecord
from search.encoding import job
from search.indices.build import index_root
from tests.factories import image_bytes, index_of, make_corpus

pytestmark = pytest.mark.django_db(transaction=True)


def encoded_seed_corpus(owner, name, seeds, **fields):
    corpus = make_corpus(owner, name, **fields)
    files = [(f"{seed}.png", io.BytesIO(image_bytes(seed=seed))) for seed in seeds]
    services.ingest_files(corpus=corpus, files=files, enqueue=False)
    job.encode_corpus(corpus_id=corpus.pk)
    corpus.refresh_from_db()
    return corpus


def files_of(corpus) -> list[Path]:
    return [Path(record.file.path) for record in corpus.images.all()]


def age(path: Path, seconds: int) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_expiry_deletes_exactly_the_expired_corpora_with_files_and_index(user):
    now = timezone.now()
    expired = encoded_seed_corpus(user, "expired", [1, 2], expires_at=now - timedelta(minutes=1))
    later = encoded_seed_corpus(user, "later", [3], expires_at=now + timedelta(hours=1))
    permanent = encoded_seed_corpus(user, "permanent", [4])
    expired_files, expired_index = files_of(expired), index_root(expired.pk)
    kept_files = files_of(later) + files_of(permanent)
    assert all(p.exists() for p in expired_files) and expired_index.is_dir()

    deleted = cleanup.delete_expired_corpora()

    assert deleted == [expired.pk]
    assert set(Corpus.objects.values_list("name", flat=True)) == {"later", "permanent"}
    assert not ImageRecord.objects.filter(corpus_id=expired.pk).exists()
    assert not any(p.exists() for p in expired_files)
    assert not expired_index.exists()
    assert all(p.exists() for p in kept_files)
    for corpus in (later, permanent):
        assert (index_root(corpus.pk) / index_of(corpus).version).is_dir()


def test_the_orphan_sweep_removes_only_orphans(user):
    live = encoded_seed_corpus(user, "live", [1, 2])
    media = Path(settings.MEDIA_ROOT) / "corpora"
    old_orphan = media / str(live.pk) / "left-by-a-crash.png"
    young_orphan = media / str(live.pk) / "being-uploaded-now.png"
    gone_dir = media / "987654"
    gone_dir.mkdir(parents=True)
    gone_file = gone_dir / "x.png"
    for path in (old_orphan, young_orphan, gone_file):
        path.write_bytes(b"x")
    age(old_orphan, 2 * cleanup.ORPHAN_GRACE_SECONDS)
    age(gone_file, 2 * cleanup.ORPHAN_GRACE_SECONDS)
    for path in files_of(live):
        age(path, 2 * cleanup.ORPHAN_GRACE_SECONDS)  # old but referenced: must stay
    orphan_index = index_root(987654) / "v1"
    orphan_index.mkdir(parents=True)

    removed = set(cleanup.sweep_orphans())

    assert {old_orphan, gone_file, gone_dir, index_root(987654)} <= removed
    assert not old_orphan.exists() and not gone_dir.exists() and not orphan_index.exists()
    assert young_orphan.exists()
    assert all(path.exists() for path in files_of(live))
    assert (index_root(live.pk) / index_of(live).version).is_dir()
