"""The searchable picture boxes of a corpus: the vectors of the boxes found inside its stored
pictures (a collage's cells, a screenshot's photos, an inset), each naming its image, so that a
whole query finds the composite it is a part of (docs/copies.md).

Few pictures are composites, so this is a small exact index beside the corpus's ScaNN index:
loaded from ``CopyFeatures`` on first use and kept per process, keyed by the corpus, its index
version and which images are described (``search.copies.described``: images described, deleted
or described again after the index was published join at the next search).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from corpora.models import Corpus
from search.copies.described import Described, described
from search.copies.per_corpus import PerCorpus

MAX_LOADED = 32


@dataclass(frozen=True)
class PartsIndex:
    owners: np.ndarray  # (n,) image id of each box vector, ascending
    vectors: np.ndarray  # (n, dim) float32

    def search(
        self, queries: np.ndarray, n: int, *, less: Sequence[float] | None = None
    ) -> dict[int, float]:
        """The best ``n`` images by their best box's similarity to any of ``queries``, a
        query's similarities counting ``less[i]`` less (its own, e.g. a grid window's penalty)."""
        if not len(self.owners):
            return {}
        # The box vectors on the left: BLAS streams them once, without the transposed copy of
        # all of them that cv2.gemm made (~2x the CPU at 52k boxes, docs/benchmarks.md), and
        # once for every query view, penalised or not (they were two products, two streams).
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.vectors.shape[1])
        scores = self.vectors @ queries.T
        if less is None:
            best_box = scores.max(axis=1).astype(np.float64)  # each box's best query view
        else:
            # Each penalty's views: best in float32, then less that in float64 (as before).
            less = np.asarray(less, dtype=np.float64)
            best_box = np.full(len(scores), -np.inf)
            for value in np.unique(less):
                group = scores[:, less == value].max(axis=1).astype(np.float64) - value
                np.maximum(best_box, group, out=best_box)
        starts = np.flatnonzero(np.r_[True, self.owners[1:] != self.owners[:-1]])
        images, best = self.owners[starts], np.maximum.reduceat(best_box, starts)
        kept = np.lexsort((images, -best))[:n]  # best first, ties by image id
        return {int(images[i]): float(best[i]) for i in kept}


_loaded: PerCorpus[PartsIndex] = PerCorpus(MAX_LOADED)


def parts_index(
    corpus: Corpus, version: str, fingerprint: str, dim: int, rows: Described | None = None
) -> PartsIndex:
    """The corpus's box vectors made with encoder version ``fingerprint``, for a search of its
    index ``version``; ``rows``: the corpus's ``described`` rows when the search read them
    already (the visual words index is keyed by them too)."""
    rows = rows if rows is not None else described(corpus)
    key = (version, fingerprint, *rows.parts_key)
    return _loaded.get(corpus.pk, key, lambda: _load(corpus, fingerprint, dim))


def _load(corpus: Corpus, fingerprint: str, dim: int) -> PartsIndex:
    from search.models import CopyFeatures

    rows = CopyFeatures.objects.filter(corpus=corpus, box_fingerprint=fingerprint).exclude(
        box_vectors=None
    )
    owners, vectors = [], []
    for image_id, blob in (
        rows.order_by("image_id").values_list("image_id", "box_vectors").iterator(chunk_size=2000)
    ):
        found = np.frombuffer(bytes(blob), dtype=np.float32).reshape(-1, dim)
        owners += [image_id] * len(found)
        vectors.append(found)
    return PartsIndex(
        owners=np.asarray(owners, dtype=np.int64),
        vectors=np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32),
    )


def clear() -> None:
    _loaded.clear()
