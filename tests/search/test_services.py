"""Index: the search services and the per-process searcher cache."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from corpora.models import ImageRecord, ImageStatus
from crier_site.errors import Conflict, InvalidInput, NotFound
from search import encoders, services
from search.evaluation import postprocess
from search.indices import build
from search.indices.cache import SearcherCache, searchers
from search.queries import params
from tests.factories import add_vector_records, index_of, make_corpus, unit_vectors

pytestmark = pytest.mark.django_db


def test_search_vectors_finds_nearest(indexed_vectors):
    corpus, vectors, records = indexed_vectors
    result = services.search_vectors(corpus=corpus, query=vectors[7], k=5)
    assert result.hits[0].record == records[7] and result.hits[0].score == pytest.approx(1.0)
    assert len(result.hits) == 5 and not result.exact
    assert result.index_version == index_of(corpus).version and result.took_ms >= 0
    scores = [hit.score for hit in result.hits]
    assert scores == sorted(scores, reverse=True)


def test_exact_mode_matches_index(indexed_vectors):
    corpus, vectors, _ = indexed_vectors
    approx = services.search_vectors(corpus=corpus, query=vectors[3], k=10)
    exact = services.search_vectors(corpus=corpus, query=vectors[3], k=10, exact=True)
    assert exact.exact
    assert [h.record_id for h in exact.hits] == [h.record_id for h in approx.hits]


@pytest.mark.parametrize("k", [0, 101, -1, 2.5, True, "many", "0"])
def test_k_is_validated_at_the_edge(k):
    with pytest.raises(InvalidInput, match="k must be a whole number from 1 to 100"):
        params.validate_k(k)


def test_k_from_a_form_or_json_or_nothing():
    assert params.validate_k("7") == 7 and params.validate_k(100) == 100
    assert params.validate_k("") == params.validate_k(None) == params.DEFAULT_K
    assert params.validate_k(None, default=24) == 24


def test_query_dimension_is_validated(indexed_vectors):
    corpus, _, _ = indexed_vectors
    with pytest.raises(InvalidInput):
        services.search_vectors(corpus=corpus, query=np.ones(3, dtype=np.float32))


def test_k_larger_than_corpus(indexed_vectors):
    corpus, vectors, _ = indexed_vectors
    assert len(services.search_vectors(corpus=corpus, query=vectors[0], k=100).hits) == 40


def test_no_index_is_not_ready(user):
    corpus = make_corpus(user)
    with pytest.raises(services.IndexNotReady) as caught:
        services.search_vectors(corpus=corpus, query=unit_vectors(1)[0])
    assert isinstance(caught.value, Conflict)
    assert caught.value.details["status"] == corpus.status


def test_deleted_records_never_show_up(indexed_vectors):
    corpus, vectors, records = indexed_vectors
    # Delete the 12 nearest neighbours of the query after the index was built.
    nearest = np.argsort(-(vectors @ vectors[0]))[:12]
    ImageRecord.objects.filter(pk__in=[records[i].pk for i in nearest]).delete()
    result = services.search_vectors(corpus=corpus, query=vectors[0], k=10)
    deleted = {records[i].pk for i in nearest}
    assert len(result.hits) == 10
    assert not deleted & {h.record_id for h in result.hits}


def test_exclude_ids(indexed_vectors):
    corpus, vectors, records = indexed_vectors
    result = services.search_vectors(
        corpus=corpus, query=vectors[0], k=3, exclude_ids=[records[0].pk]
    )
    assert len(result.hits) == 3 and records[0].pk not in {h.record_id for h in result.hits}


def test_search_similar_excludes_self(indexed_vectors):
    corpus, vectors, records = indexed_vectors
    result = services.search_similar(corpus=corpus, record_id=records[5].pk, k=4)
    ids = [h.record_id for h in result.hits]
    assert len(ids) == 4 and records[5].pk not in ids
    nearest = np.argsort(-(vectors @ vectors[5]))[1:5]
    assert ids == [records[i].pk for i in nearest]


def test_search_similar_errors(indexed_vectors, other_user):
    corpus, _, _ = indexed_vectors
    other = make_corpus(other_user, "other")
    foreign = add_vector_records(other, unit_vectors(1, seed=9))[0]
    with pytest.raises(NotFound):
        services.search_similar(corpus=corpus, record_id=foreign.pk)
    pending = add_vector_records(corpus, None, n=1, status=ImageStatus.PENDING)[0]
    with pytest.raises(Conflict):
        services.search_similar(corpus=corpus, record_id=pending.pk)


def test_cache_reloads_only_on_version_change(indexed_vectors):
    corpus, vectors, _ = indexed_vectors
    loads = searchers.loads
    for _ in range(3):
        services.search_vectors(corpus=corpus, query=vectors[0])
    assert searchers.loads == loads + 1
    add_vector_records(corpus, unit_vectors(3, seed=4))
    build.rebuild_index(corpus=corpus)
    for _ in range(2):
        result = services.search_vectors(corpus=corpus, query=vectors[0], k=100)
    assert searchers.loads == loads + 2 and len(result.hits) == 43


def test_cache_is_a_small_lru(tmp_path):
    loaded = []
    cache = SearcherCache(loader=lambda d: loaded.append(d) or d.name, max_size=2)
    assert cache.get(1, "a", tmp_path / "1a") == "1a"
    cache.get(2, "a", tmp_path / "2a")
    cache.get(1, "a", tmp_path / "1a")  # hit; 2 is now least recently used
    cache.get(3, "a", tmp_path / "3a")  # evicts 2
    cache.get(1, "b", tmp_path / "1b")  # new version replaces 1's entry
    cache.get(2, "a", tmp_path / "2a")
    assert [d.name for d in loaded] == ["1a", "2a", "3a", "1b", "2a"]


def test_a_request_for_an_older_version_gets_the_newer_cached_one(tmp_path):
    loaded = []
    cache = SearcherCache(loader=lambda d: loaded.append(d) or d.name)
    cache.get(1, "v2", tmp_path / "v2")
    # A request that read the corpus just before the swap: no reload of the old version.
    assert cache.get(1, "v1", tmp_path / "v1") == "v2"
    assert cache.get(1, "v3", tmp_path / "v3") == "v3"
    assert [d.name for d in loaded] == ["v2", "v3"]


def test_a_search_that_read_a_version_removed_since_uses_the_live_one(indexed_vectors):
    corpus, _, _ = indexed_vectors
    read = index_of(corpus).version  # what the request read as live
    add_vector_records(corpus, unit_vectors(3, seed=4))
    live = build.rebuild_index(corpus=corpus)
    # Slower than the grace: the version the request read is gone from disk.
    shutil.rmtree(build.index_root(corpus.pk) / read)
    searchers.clear()

    index = services._load(corpus, read)

    assert index.directory.name == live and index.size == 43


def test_missing_version_dir_is_not_ready(indexed_vectors):
    corpus, vectors, _ = indexed_vectors
    build.drop_index(corpus_id=corpus.pk)
    with pytest.raises(services.IndexNotReady):
        services.search_vectors(corpus=corpus, query=vectors[0])


def png_bytes(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_search_image_with_histogram_encoder(user):
    encoder = encoders.get_encoder("histogram")
    corpus = make_corpus(user)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (250, 10, 10)]
    vectors = encoder.encode([png_bytes(c) for c in colours])
    records = add_vector_records(corpus, vectors, fingerprint=encoder.fingerprint)
    build.rebuild_index(corpus=corpus)
    result = services.search_image(corpus=corpus, image=png_bytes((255, 0, 0)), k=2)
    assert [h.record_id for h in result.hits] == [records[0].pk, records[3].pk]


@pytest.mark.parametrize("exact", [False, True])
def test_query_expansion_re_searches_with_the_top_hits(user, settings, exact):
    corpus = make_corpus(user)
    a, b, c, d = (
        np.array(v, dtype=np.float32)
        for v in ([0.9, 0.436, 0], [0.85, 0, 0.527], [0.5, 0.866, 0], [0.6, 0, 0.8])
    )
    records = add_vector_records(corpus, np.stack([v / np.linalg.norm(v) for v in (a, b, c, d)]))
    build.rebuild_index(corpus=corpus)
    query = np.array([1, 0, 0], dtype=np.float32)
    names = {r.pk: name for r, name in zip(records, "abcd", strict=True)}

    def order(**kwargs) -> str:
        result = services.search_vectors(corpus=corpus, query=query, k=4, exact=exact, **kwargs)
        return "".join(names[hit.record_id] for hit in result.hits)

    settings.CRIER_QUERY_EXPANSION = 0
    assert order() == "abdc"
    # Averaging the query with its best hit pulls it towards a's direction, where c lies.
    assert order(expansion=1) == "abcd"
    settings.CRIER_QUERY_EXPANSION = 1
    assert order() == "abcd"


@pytest.mark.parametrize("n", [1, 2, 3])
def test_the_service_expands_a_query_exactly_as_evaluation_measured(user, settings, n):
    """One α-query expansion: the service's expanded query is evaluation's ``aqe:n`` on the
    same vectors (docs/evaluation.md reports the gains of the latter)."""
    corpus = make_corpus(user)
    vectors = unit_vectors(30, dim=16)
    add_vector_records(corpus, vectors)
    build.rebuild_index(corpus=corpus)
    query = unit_vectors(1, dim=16, seed=99)[0]
    _, (measured,) = postprocess.apply(f"aqe:{n}", vectors, query[np.newaxis])

    plain = services.search_vectors(corpus=corpus, query=query, k=n, exact=True, expansion=0)
    served = services._expanded_query(corpus, query, plain.hits[:n])

    np.testing.assert_allclose(served, measured, atol=1e-6)
    expanded = services.search_vectors(corpus=corpus, query=query, k=5, exact=True, expansion=n)
    again = services.search_vectors(corpus=corpus, query=measured, k=5, exact=True, expansion=0)
    assert [h.record_id for h in expanded.hits] == [h.record_id for h in again.hits]
