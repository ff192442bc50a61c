"""Near-duplicate groups inside one corpus: images whose vectors reach a cosine similarity
threshold with each other, joined into groups (connected components of those pairs).

Every stored vector is used as a query against the corpus's live index, so the work is one
batched search (exact below ``CRIER_ANN_THRESHOLD``, tree + AH above) rather than n² products.
A report is cached per (corpus, index version, threshold): any change to the corpus's images
publishes a new index version, and images deleted meanwhile are dropped when shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from django.core.cache import cache

from corpora.models import Corpus, ImageRecord
from search.copies import store
from search.copies.local import Match
from search.copies.matching import COPY, SIMILAR, verify_targets
from search.indices.build import read_vectors
from search.queries.params import DEFAULT_THRESHOLD
from search.selectors import index_version
from search.services import IndexNotReady, require_index

# Partners looked at per image: a group larger than this is still found whole, through chains.
NEIGHBOURS = 10
QUERY_CHUNK = 1024
CACHE_SECONDS = 15 * 60


@dataclass(frozen=True)
class DuplicateGroup:
    record_ids: list[int]  # ascending: the earliest upload first
    score: float  # the highest similarity between two members


@dataclass(frozen=True)
class DuplicateReport:
    groups: list[DuplicateGroup]  # most similar first
    threshold: float
    compared: int  # images whose vectors were compared
    index_version: str
    took_ms: float
    cached: bool = False


@dataclass(frozen=True)
class DuplicateRow:
    """A group as shown: its images (earliest upload first), best pair score, and which of
    the others are verified copies of the first (``search.copies.local``: record id → where)."""

    score: float
    records: list[ImageRecord]
    matches: dict[int, Match] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``copy`` when every other image is a verified copy of the first (the same picture,
        edited), else ``similar`` (pictures that only look alike)."""
        return COPY if len(self.matches) == len(self.records) - 1 else SIMILAR


class _UnionFind:
    """Union-find over record ids, remembering each group's best pair score."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.best: dict[int, float] = {}

    def find(self, item: int) -> int:
        root = self.parent.setdefault(item, item)
        while root != self.parent[root]:
            root = self.parent[root]
        while item != root:  # path compression
            self.parent[item], item = root, self.parent[item]
        return root

    def join(self, a: int, b: int, score: float) -> None:
        root_a, root_b = self.find(a), self.find(b)
        best = max(score, self.best.get(root_a, score), self.best.get(root_b, score))
        if root_a != root_b:
            self.parent[root_b] = root_a
            self.best.pop(root_b, None)
        self.best[root_a] = best

    def groups(self) -> list[DuplicateGroup]:
        members: dict[int, list[int]] = {}
        for item in self.parent:
            members.setdefault(self.find(item), []).append(item)
        found = [
            DuplicateGroup(record_ids=sorted(ids), score=self.best[root])
            for root, ids in members.items()
            if len(ids) > 1
        ]
        return sorted(found, key=lambda group: (-group.score, group.record_ids[0]))


def find_duplicates(*, corpus: Corpus, threshold: float = DEFAULT_THRESHOLD) -> DuplicateReport:
    """Groups of ``corpus``'s images that look alike at ``threshold`` or above (a value
    checked at the edge: ``search.queries.params.validate_threshold``)."""
    key = f"crier:duplicates:{corpus.pk}:{index_version(corpus)}:{threshold:.6f}"
    report = cache.get(key)
    if report is not None:
        return replace(report, groups=_without_deleted(corpus, report.groups), cached=True)
    report = _compare_all(corpus, threshold)
    cache.set(key, report, CACHE_SECONDS)
    return report


def _without_deleted(corpus: Corpus, groups: list[DuplicateGroup]) -> list[DuplicateGroup]:
    members = [pk for group in groups for pk in group.record_ids]
    alive = set(corpus.images.filter(pk__in=members).values_list("pk", flat=True))
    kept = [replace(g, record_ids=[pk for pk in g.record_ids if pk in alive]) for g in groups]
    return [group for group in kept if len(group.record_ids) > 1]


def _compare_all(corpus: Corpus, threshold: float) -> DuplicateReport:
    started = time.perf_counter()
    index = require_index(corpus)
    ids, vectors, _ = read_vectors(corpus)
    if len(ids) and vectors.shape[1] != index.meta["dim"]:  # the encoder changed: rebuilding
        raise IndexNotReady(
            "This corpus is being re-encoded; try again when it is ready.",
            status=corpus.status,
            corpus_id=corpus.pk,
        )
    alive = set(ids.tolist())  # records deleted since the index was built drop out
    groups = _UnionFind()
    k = min(NEIGHBOURS + 1, index.size)
    for start in range(0, len(ids), QUERY_CHUNK):
        found, scores = index.search(vectors[start : start + QUERY_CHUNK], k)
        rows, cols = np.nonzero(scores >= threshold)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            query_id, partner = int(ids[start + row]), int(found[row, col])
            if partner != query_id and partner in alive:
                groups.join(query_id, partner, float(scores[row, col]))
    return DuplicateReport(
        groups=groups.groups(),
        threshold=threshold,
        compared=len(ids),
        index_version=index_version(corpus),
        took_ms=(time.perf_counter() - started) * 1000,
    )


def duplicate_rows(*, corpus: Corpus, report: DuplicateReport, limit: int) -> list[DuplicateRow]:
    """The first ``limit`` groups of ``report`` with their records, in one query; a group left
    with fewer than two images (deleted since the comparison) is not shown."""
    shown = report.groups[:limit]
    records = corpus.images.in_bulk([pk for group in shown for pk in group.record_ids])
    features = store.features_of(records)
    rows = []
    for group in shown:
        members = [records[pk] for pk in group.record_ids if pk in records]
        if len(members) > 1:
            first, others = members[0].pk, {r.pk: features.get(r.pk, []) for r in members[1:]}
            matches = verify_targets(features.get(first, []), others)
            rows.append(DuplicateRow(score=group.score, records=members, matches=matches))
    return rows
