"""Index: building, swapping, dropping and sweeping a corpus's index dirs."""

from __future__ import annotations

import os
import time

import pytest

from corpora.models import Corpus, ImageRecord, ImageStatus
from search.indices import build, scann_index
from tests.factories import add_vector_records, index_of, make_corpus, unit_vectors

pytestmark = pytest.mark.django_db

DIM = 16


def version_dirs(corpus: Corpus) -> list[str]:
    root = build.index_root(corpus.pk)
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_rebuild_reads_stored_vectors_and_swaps(user):
    corpus = make_corpus(user)
    records = add_vector_records(corpus, unit_vectors(30))
    add_vector_records(corpus, None, n=2, status=ImageStatus.PENDING)
    version = build.rebuild_index(corpus=corpus)

    corpus.refresh_from_db()
    assert version and index_of(corpus).version == version and index_of(corpus).indexed_count == 30
    assert version_dirs(corpus) == [version]
    index = scann_index.LoadedIndex.load(build.index_root(corpus.pk) / version)
    assert index.meta["n"] == 30 and index.meta["encoder_fingerprint"] == "fp-1"
    ids, _ = index.search(unit_vectors(30)[4], 1)
    assert ids[0] == records[4].pk


def test_a_replaced_version_stays_for_searches_that_read_it_then_goes(user, monkeypatch):
    corpus = make_corpus(user)
    add_vector_records(corpus, unit_vectors(10))
    first = build.rebuild_index(corpus=corpus)
    add_vector_records(corpus, unit_vectors(5, seed=1))
    second = build.rebuild_index(corpus=corpus)
    assert second > first
    # A search that read `first` as live a moment ago can still open it.
    assert version_dirs(corpus) == [first, second]
    assert index_of(corpus).indexed_count == 15

    monkeypatch.setattr(build, "SUPERSEDED_GRACE_SECONDS", 0)  # ... the grace has passed
    add_vector_records(corpus, unit_vectors(2, seed=2))
    third = build.rebuild_index(corpus=corpus)
    assert version_dirs(corpus) == [third]


def test_version_names_carry_their_creation_time():
    before = time.time()
    version = build.new_version()
    assert before - 1 < build.version_time(version) < time.time() + 1
    assert build.version_time(".tmp-1234") is None and build.version_time("v12") is None


def test_empty_corpus_has_no_index(user):
    corpus = make_corpus(user)
    add_vector_records(corpus, unit_vectors(3))
    build.rebuild_index(corpus=corpus)
    ImageRecord.objects.filter(corpus=corpus).delete()
    add_vector_records(corpus, None, n=1, status=ImageStatus.FAILED)

    assert build.rebuild_index(corpus=corpus) == ""
    corpus.refresh_from_db()
    assert (index_of(corpus).version, index_of(corpus).indexed_count) == ("", 0)
    assert not build.index_root(corpus.pk).exists()


def test_failed_build_keeps_previous_version(user, monkeypatch):
    corpus = make_corpus(user)
    add_vector_records(corpus, unit_vectors(10))
    live = build.rebuild_index(corpus=corpus)
    add_vector_records(corpus, unit_vectors(5, seed=1))

    def boom(*args, **kwargs):
        raise RuntimeError("build failed")

    monkeypatch.setattr(scann_index, "build_searcher", boom)
    with pytest.raises(RuntimeError):
        build.rebuild_index(corpus=corpus)
    corpus.refresh_from_db()
    assert index_of(corpus).version == live and index_of(corpus).indexed_count == 10
    assert version_dirs(corpus) == [live]
    assert scann_index.LoadedIndex.load(build.index_root(corpus.pk) / live).size == 10


def test_failed_save_leaves_no_tmp_dir(user, monkeypatch):
    corpus = make_corpus(user)
    add_vector_records(corpus, unit_vectors(10))
    live = build.rebuild_index(corpus=corpus)

    def half_written(directory, *args, **kwargs):
        directory.mkdir(parents=True)
        (directory / "partial").write_bytes(b"x")
        raise OSError("disk full")

    monkeypatch.setattr(scann_index, "save_index", half_written)
    with pytest.raises(OSError):
        build.rebuild_index(corpus=corpus)
    assert version_dirs(corpus) == [live]


def test_only_the_majority_fingerprint_is_indexed(user):
    corpus = make_corpus(user)
    add_vector_records(corpus, unit_vectors(6), fingerprint="new")
    add_vector_records(corpus, unit_vectors(2, seed=3, dim=8), fingerprint="old")
    ids, vectors, fingerprint = build.read_vectors(corpus)
    assert fingerprint == "new" and vectors.shape == (6, DIM) and len(ids) == 6
    build.rebuild_index(corpus=corpus)
    assert index_of(corpus).indexed_count == 6


def test_drop_index(user):
    corpus = make_corpus(user)
    add_vector_records(corpus, unit_vectors(3))
    build.rebuild_index(corpus=corpus)
    build.drop_index(corpus_id=corpus.pk)
    assert not build.index_root(corpus.pk).exists()
    build.drop_index(corpus_id=corpus.pk)  # idempotent


def test_corpus_delete_drops_index_on_commit(user, django_capture_on_commit_callbacks):
    corpus = make_corpus(user)
    add_vector_records(corpus, unit_vectors(3))
    build.rebuild_index(corpus=corpus)
    root = build.index_root(corpus.pk)
    with django_capture_on_commit_callbacks(execute=True):
        corpus.delete()
    assert not root.exists()


def age(path, seconds: float = 3600) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_sweep_removes_only_orphans(user, settings):
    live_corpus = make_corpus(user, "live")
    add_vector_records(live_corpus, unit_vectors(5))
    live = build.rebuild_index(corpus=live_corpus)
    root = build.index_root(live_corpus.pk)
    age(root / live)  # old, but live: never touched
    stale = root / "v0000000000000001-deadbeef"
    stale.mkdir()
    age(stale)
    fresh_stale = root / "v0000000000000002-cafebabe"  # maybe a build about to swap: kept
    fresh_stale.mkdir()
    old_tmp = root / ".tmp-old"
    old_tmp.mkdir()
    age(old_tmp)
    fresh_tmp = root / ".tmp-fresh"
    fresh_tmp.mkdir()
    gone = build.index_root(live_corpus.pk + 1000)  # a corpus that no longer exists
    (gone / "v1").mkdir(parents=True)
    other = make_corpus(user, "just swapped")
    add_vector_records(other, unit_vectors(3))
    replaced = build.rebuild_index(corpus=other)
    add_vector_records(other, unit_vectors(1, seed=5))
    build.rebuild_index(corpus=other)
    age(build.index_root(other.pk) / replaced)  # made long ago, replaced just now: kept

    removed = build.sweep_orphan_index_dirs()

    assert set(removed) == {stale, old_tmp, gone}
    assert (build.index_root(other.pk) / replaced).is_dir()
    assert (root / live).is_dir() and fresh_stale.is_dir() and fresh_tmp.is_dir()
    assert not gone.exists()
    assert scann_index.LoadedIndex.load(root / live).size == 5
    assert build.sweep_orphan_index_dirs() == []


def _count_builds(monkeypatch) -> dict[str, int]:
    calls = {"builds": 0}
    real = scann_index.build_searcher

    def counting(*args, **kwargs):
        calls["builds"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(scann_index, "build_searcher", counting)
    return calls


def test_a_large_index_is_updated_in_place_for_small_changes(user, settings, monkeypatch):
    settings.CRIER_ANN_THRESHOLD = 0  # tree + AH from MIN_TREE_SIZE vectors on
    corpus = make_corpus(user)
    base = add_vector_records(corpus, unit_vectors(1200, seed=1, dim=64))
    first = build.update_index(corpus=corpus)
    builds = _count_builds(monkeypatch)

    new_vectors = unit_vectors(5, seed=2, dim=64)
    new = add_vector_records(corpus, new_vectors)
    ImageRecord.objects.filter(pk__in=[r.pk for r in base[:3]]).delete()
    version = build.update_index(corpus=corpus)

    assert builds["builds"] == 0 and version != first
    corpus.refresh_from_db()
    assert index_of(corpus).version == version and index_of(corpus).indexed_count == 1202
    assert version_dirs(corpus) == [first, version]  # the replaced one stays for a while
    index = scann_index.LoadedIndex.load(build.index_root(corpus.pk) / version)
    assert index.meta["changes_since_build"] == 8 and index.meta["n"] == 1202
    assert index.meta["delta_n"] == 5
    ids, scores = index.search(new_vectors, 1)  # the delta is scored exactly: always rank 1
    assert list(ids[:, 0]) == [r.pk for r in new]
    assert scores[:, 0] == pytest.approx(1.0, abs=1e-5)
    removed = {r.pk for r in base[:3]}
    found, _ = index.search(unit_vectors(1200, seed=1, dim=64)[:3], 5)
    assert removed.isdisjoint(set(found.ravel().tolist()))


def test_too_many_changes_trigger_a_full_rebuild(user, settings, monkeypatch):
    settings.CRIER_ANN_THRESHOLD = 0
    corpus = make_corpus(user)
    add_vector_records(corpus, unit_vectors(1000, seed=1))
    build.update_index(corpus=corpus)
    builds = _count_builds(monkeypatch)

    add_vector_records(corpus, unit_vectors(int(1000 * build.INCREMENTAL_SHARE) + 1, seed=3))
    version = build.update_index(corpus=corpus)

    assert builds["builds"] == 1
    meta = scann_index.LoadedIndex.load(build.index_root(corpus.pk) / version).meta
    assert meta["changes_since_build"] == 0 and meta["built_n"] == meta["n"] == 1201


def test_small_indices_are_simply_rebuilt(user, monkeypatch):
    corpus = make_corpus(user)
    add_vector_records(corpus, unit_vectors(20, seed=1))
    build.update_index(corpus=corpus)
    builds = _count_builds(monkeypatch)
    add_vector_records(corpus, unit_vectors(1, seed=2))
    build.update_index(corpus=corpus)
    assert builds["builds"] == 1
    assert build.update_index(corpus=corpus) == index_of(corpus).version  # nothing changed
    assert builds["builds"] == 1


def test_the_delta_carries_over_and_loses_removed_records(user, settings, monkeypatch):
    settings.CRIER_ANN_THRESHOLD = 0
    corpus = make_corpus(user)
    add_vector_records(corpus, unit_vectors(1000, seed=1, dim=32))
    build.update_index(corpus=corpus)
    builds = _count_builds(monkeypatch)
    first_new = add_vector_records(corpus, unit_vectors(3, seed=5, dim=32))
    build.update_index(corpus=corpus)
    later = add_vector_records(corpus, unit_vectors(2, seed=6, dim=32))
    ImageRecord.objects.filter(pk=first_new[0].pk).delete()
    version = build.update_index(corpus=corpus)

    assert builds["builds"] == 0
    index = scann_index.LoadedIndex.load(build.index_root(corpus.pk) / version)
    assert sorted(index.delta_ids.tolist()) == sorted(r.pk for r in [*first_new[1:], *later])
    assert index.meta["n"] == 1004 and index.meta["changes_since_build"] == 6
    ids, _ = index.search(unit_vectors(3, seed=5, dim=32), 1)
    assert ids[0, 0] != first_new[0].pk and list(ids[1:, 0]) == [r.pk for r in first_new[1:]]
