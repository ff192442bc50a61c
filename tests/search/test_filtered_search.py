"""Filtered search gives the true top-k among matching images (search.queries.filtered), checked
against a brute-force filtered search on 3,000 synthetic records.

How the comparison stays honest: random unit vectors are written straight into records and a
real index is built from them.

- Below ``CRIER_ANN_THRESHOLD`` the index is ScaNN's brute force, i.e. exact: the filtered
  search must equal numpy's exact ranking of the matching records (vectors @ query, best first,
  equal scores by id) — page by page, with min_score, exclude_ids and query expansion — for a
  selective filter (20 of 3,000, 0.7%) and an unselective one (1,500, 50%), through both of its
  ways (exact scan of the matching vectors, over-fetch from the index), each filter forced
  down each way.
- With a partitioned (tree) index an unfiltered search is approximate: it ranks only the vectors
  in the leaves it searches. A filtered over-fetch searches leaves / share of them (so they
  hold as many matching vectors as the unfiltered search's leaves hold vectors); it must equal
  what the same index returns searching those leaves unfiltered at full depth, then filtered
  (at 3,000 vectors every candidate the tree offers is re-scored exactly, so the two agree).
  For the 0.7% filter that is every leaf, i.e. numpy's ranking; and where the leaves run out of
  matching candidates (a deep page of the 50% filter) the exact scan answers: numpy's again.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from django.test import override_settings

from corpora.models import ImageRecord
from search import services
from search.indices import build as indexing
from search.indices.scann_index import BRUTE_FORCE, TREE_AH
from search.queries import filtered, params
from search.queries.filters import ImageFilters
from search.queries.vectors import expand_queries
from tests.factories import add_vector_records, make_corpus, unit_vectors

pytestmark = pytest.mark.django_db

N = 3_000
DIM = 32
RARE = ImageFilters(tags=("rare",))  # every 150th record: 20 of 3,000
HALF = ImageFilters(tags=("half",))  # every other record: 1,500


def build(user, *, ann_threshold: int = 20_000):
    """(corpus, ids, vectors, is_rare, is_half) of N records with a built index."""
    corpus = make_corpus(user)
    vectors = unit_vectors(N, seed=11, dim=DIM)
    records = add_vector_records(corpus, vectors)
    ids = np.array([record.pk for record in records], dtype=np.int64)
    is_half = np.arange(N) % 2 == 0
    is_rare = np.arange(N) % 150 == 0
    ImageRecord.objects.filter(pk__in=ids[is_half].tolist()).update(tag_text="|half|")
    ImageRecord.objects.filter(pk__in=ids[is_rare].tolist()).update(tag_text="|half|rare|")
    with override_settings(CRIER_ANN_THRESHOLD=ann_threshold):
        indexing.rebuild_index(corpus=corpus)
    corpus.refresh_from_db()
    return corpus, ids, vectors, is_rare, is_half


def exact_ranking(ids, vectors, keep, query, exclude=()):
    """Brute force: every kept record scored, best first, equal scores by id."""
    mask = keep & ~np.isin(ids, list(exclude))
    scores = vectors[mask] @ query
    order = np.lexsort((ids[mask], -scores))
    return ids[mask][order], scores[order]


def ranking(corpus, query, filters, **page):
    return services.search_vectors(
        corpus=corpus,
        query=query,
        filters=filters,
        expansion=page.pop("expansion", 0),
        page=params.validate_page(**page),
    )


def ids_of(result) -> list[int]:
    return [hit.record_id for hit in result.hits]


@pytest.fixture
def brute(user):
    corpus, ids, vectors, is_rare, is_half = build(user)
    assert services.require_index(corpus).meta["kind"] == BRUTE_FORCE
    return corpus, ids, vectors, {"rare": (RARE, is_rare), "half": (HALF, is_half)}


@pytest.mark.parametrize("way", ["exact", "overfetch"])
@pytest.mark.parametrize("which", ["rare", "half"])
def test_filtered_pages_equal_brute_force_with_a_brute_force_index(brute, monkeypatch, which, way):
    corpus, ids, vectors, filters_by_name = brute
    filters, keep = filters_by_name[which]
    monkeypatch.setattr(filtered.FilteredSearch, "prefers_exact", lambda self, n: way == "exact")
    for query in unit_vectors(4, seed=99, dim=DIM):
        want, want_scores = exact_ranking(ids, vectors, keep, query)
        seen, offset = [], 0
        while offset is not None and offset < 45:
            page = ranking(corpus, query, filters, k=15, offset=offset)
            assert ids_of(page) == want[offset : offset + 15].tolist()
            got = [hit.score for hit in page.hits]
            assert np.allclose(got, want_scores[offset : offset + 15], atol=1e-5)
            seen += ids_of(page)
            offset = page.next_offset
        assert len(seen) == min(45, keep.sum())
        # min_score: the count of matching images scoring at least that much.
        # Midway between two scores: index and numpy may round the same score differently.
        cut = float(want_scores[12] + want_scores[13]) / 2
        counted = ranking(corpus, query, filters, k=5, min_score=cut)
        assert counted.matched == 13
        assert ids_of(counted) == want[:5].tolist()


def test_the_cheaper_way_is_chosen(brute, monkeypatch):
    corpus, _, _, filters_by_name = brute
    index = services.require_index(corpus)
    without_copy = replace(index, directory=None)  # vectors read from the database instead

    def search(name, index=index):
        return filtered.FilteredSearch(corpus=corpus, index=index, filters=filters_by_name[name][0])

    assert (search("rare").matching, search("half").matching) == (20, 1500)
    # Scoring 20 or 1,500 memory-mapped 32-d vectors costs less than checking 100 ids.
    assert search("rare").prefers_exact(10) and search("half").prefers_exact(10)
    # Read from the database: 20 still do (finding 10 among 3,000 would check 2,250 ids);
    # 1,500 cost more than checking the 100 candidates the over-fetch takes at first.
    assert search("rare", without_copy).prefers_exact(10)
    assert not search("half", without_copy).prefers_exact(10)
    monkeypatch.setattr(filtered, "EXACT_SCAN_MAX", 19)  # more match than may be counted
    assert search("rare").matching is None and not search("rare").prefers_exact(10)
    exact = filtered.FilteredSearch(corpus=corpus, index=None, filters=filters_by_name["half"][0])
    assert exact.prefers_exact(10)


def test_more_like_this_with_a_filter_leaves_out_the_query_image(brute):
    corpus, ids, vectors, filters_by_name = brute
    filters, keep = filters_by_name["half"]
    for position in (0, 1):  # one that matches the filter, one that does not
        result = services.search_similar(
            corpus=corpus, record_id=int(ids[position]), k=10, filters=filters
        )
        want, _ = exact_ranking(ids, vectors, keep, vectors[position], exclude=[ids[position]])
        assert ids_of(result) == want[:10].tolist()


def test_query_expansion_expands_with_matching_neighbours_only(brute):
    corpus, ids, vectors, filters_by_name = brute
    filters, keep = filters_by_name["rare"]
    query = unit_vectors(1, seed=5, dim=DIM)[0]
    first, _ = exact_ranking(ids, vectors, keep, query)
    neighbours = vectors[np.searchsorted(ids, first[:3])]
    expanded = expand_queries(query, neighbours, neighbours @ query)
    want, _ = exact_ranking(ids, vectors, keep, expanded)
    assert ids_of(ranking(corpus, query, filters, k=10, expansion=3)) == want[:10].tolist()
    exact = services.search_vectors(
        corpus=corpus, query=query, k=10, exact=True, expansion=3, filters=filters
    )
    assert ids_of(exact) == want[:10].tolist()


def test_records_deleted_or_no_longer_matching_are_never_hits(brute):
    corpus, ids, vectors, filters_by_name = brute
    filters, keep = filters_by_name["rare"]
    query = vectors[150]  # a rare record's own vector: it comes first
    assert ids_of(ranking(corpus, query, filters, k=3))[0] == ids[150]
    ImageRecord.objects.filter(pk=ids[150]).delete()
    ImageRecord.objects.filter(pk=ids[300]).update(tag_text="|half|")
    keep = keep.copy()
    keep[[150, 300]] = False
    want, _ = exact_ranking(ids, vectors, keep, query)
    assert ids_of(ranking(corpus, query, filters, k=18)) == want.tolist()


def test_a_filter_nothing_matches_answers_no_hits(brute):
    corpus, _, vectors, _ = brute
    result = ranking(corpus, vectors[0], ImageFilters(tags=("absent",)), k=10)
    assert result.hits == [] and result.next_offset is None
    assert ranking(corpus, vectors[0], ImageFilters(), k=10).hits  # empty filters: unfiltered


def test_with_a_tree_index_the_filter_cuts_the_indexs_own_ranking(user, monkeypatch):
    corpus, ids, vectors, is_rare, is_half = build(user, ann_threshold=1_000)
    index = services.require_index(corpus)
    assert index.meta["kind"] == TREE_AH
    exact_calls = []
    original = filtered.FilteredSearch._exact

    def counting_exact(self, query, n):
        exact_calls.append(n)
        return original(self, query, n)

    monkeypatch.setattr(filtered.FilteredSearch, "_exact", counting_exact)
    counted_max = filtered.EXACT_SCAN_MAX
    half_search = filtered.FilteredSearch(corpus=corpus, index=index, filters=HALF)
    leaves = half_search.leaves()  # twice the tree's own: half the vectors match
    assert leaves == 2 * index.meta["tree"]["leaves_to_search"]
    for query in unit_vectors(4, seed=7, dim=DIM):
        # Selective: the exact scan (cheaper than any over-fetch).
        want, _ = exact_ranking(ids, vectors, is_rare, query)
        assert ids_of(ranking(corpus, query, RARE, k=10)) == want[:10].tolist()
        # Forced to over-fetch, 0.7% matching makes the tree search every leaf: exact again.
        with monkeypatch.context() as forced:
            forced.setattr(filtered.FilteredSearch, "prefers_exact", lambda self, n: False)
            exact_calls.clear()
            assert ids_of(ranking(corpus, query, RARE, k=10)) == want[:10].tolist()
            assert exact_calls == []
            # Unselective: what the same leaves rank unfiltered at full depth, filtered.
            found, _ = index.search(query, N, leaves=leaves)
            kept = found[np.isin(found, ids[is_half])]
            for offset in (0, 10, 20):
                page = ranking(corpus, query, HALF, k=10, offset=offset)
                assert ids_of(page) == kept[offset : offset + 10].tolist()
            assert exact_calls == []
            # Too many match to count: the share among the query's neighbours decides.
            forced.setattr(filtered, "EXACT_SCAN_MAX", 100)
            uncounted = filtered.FilteredSearch(corpus=corpus, index=index, filters=HALF)
            assert uncounted.matching is None
            got, _ = uncounted(query, 11)
            own = index.meta["tree"]["leaves_to_search"]
            assert own < uncounted.leaves_searched <= 4 * own
            found, _ = index.search(query, N, leaves=uncounted.leaves_searched)
            assert got.tolist() == found[np.isin(found, ids[is_half])][:11].tolist()
            forced.setattr(filtered, "EXACT_SCAN_MAX", counted_max)
            # A page deeper than the matching candidates those leaves hold: the exact scan.
            assert len(kept) < 600
            want, _ = exact_ranking(ids, vectors, is_half, query)
            deep = ranking(corpus, query, HALF, k=50, offset=600)
            assert exact_calls and ids_of(deep) == want[600:650].tolist()
