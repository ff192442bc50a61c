"""Build, save and load one ScaNN index. Pure numpy + ScaNN: no Django here.

Vectors are L2-normalised, so dot product is cosine similarity. Below ``ann_threshold`` vectors
the searcher is ScaNN's exact brute force; above it a partitioning tree + asymmetric hashing
(anisotropic) + exact float reordering, with its parameters scaled to the corpus size.
See docs/indexing.md for how the parameters were chosen.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crier_site.quiet import native_stderr_to_log

BRUTE_FORCE = "brute_force"
TREE_AH = "tree_ah"

# Never partition fewer vectors than this, whatever the threshold: leaves would be too small.
MIN_TREE_SIZE = 1_000
# The searcher's default k; every search passes its own final_num_neighbors anyway.
DEFAULT_NUM_NEIGHBORS = 10
# Approximate candidates re-scored exactly, per requested neighbour (and at least this many).
REORDER_PER_K = 10
MIN_REORDER = 200

RECORD_IDS_FILE = "record_ids.npy"
# ScaNN's own float copy of the vectors (row = position), kept by both index kinds for exact
# scoring; read back memory-mapped to score a few chosen records exactly (search.queries.filtered).
DATASET_FILE = "dataset.npy"
DELTA_IDS_FILE = "delta_ids.npy"
DELTA_VECTORS_FILE = "delta_vectors.npy"
META_FILE = "meta.json"


class _NoTensorFlowOnThisThread:
    """A meta path finder that makes ``import tensorflow`` fail on one thread only."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if threading.get_ident() == self.thread and name.partition(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def _scann_ops():
    # Imported lazily, and without TensorFlow: `import scann` also loads its TensorFlow ops
    # when TensorFlow imports (3 s, ~640 MB resident), which the pybind searcher never uses;
    # it skips them when the import fails. Failing it only on this thread leaves other
    # threads' imports alone; where TensorFlow is already loaded this changes nothing.
    blocker = None if "scann" in sys.modules else _NoTensorFlowOnThisThread()
    if blocker is not None:
        sys.meta_path.insert(0, blocker)
    try:
        from scann import scann_ops_pybind
    finally:
        if blocker is not None:
            sys.meta_path.remove(blocker)

    return scann_ops_pybind


def tree_params(n: int) -> dict[str, Any]:
    """Partitioning parameters for ``n`` vectors.

    ~sqrt(n) leaves (so a leaf holds ~sqrt(n) vectors), searching ~8% of them but at least 8:
    on clustered 1280-d vectors this keeps recall@10 >= 0.95 at 10k-100k (benchmarks/ann.py).
    Training on fewer vectors (100 per leaf) cost recall at 100k (0.945 vs 0.988).

    The vectors are unit length, so the tree clusters on the sphere (``spherical``): recall@10
    at 100k rose from 0.994 to 1.000. Centres start from k-means++ rather than random points,
    which makes a build deterministic (random starts moved recall by +-0.02 between builds of
    the same vectors) for ~40% more build time; see docs/benchmarks.md.
    """
    num_leaves = max(16, min(2_000, round(math.sqrt(n))))
    leaves_to_search = min(num_leaves, max(8, math.ceil(num_leaves * 0.08)))
    return {
        "num_leaves": num_leaves,
        "leaves_to_search": leaves_to_search,
        "training_sample_size": min(n, 100_000),
        "spherical": True,
        "kmeans_plus_plus": True,
    }


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise ValueError(f"expected a non-empty (n, dim) array, got shape {vectors.shape}")
    return vectors


def config_kind(n: int, *, ann_threshold: int) -> str:
    return TREE_AH if n >= max(ann_threshold, MIN_TREE_SIZE) else BRUTE_FORCE


def _docids(start: int, count: int) -> list[str]:
    return [str(position) for position in range(start, start + count)]


def build_searcher(
    vectors: np.ndarray, *, ann_threshold: int, tree: dict[str, Any] | None = None
) -> Any:
    """A ScaNN searcher over ``vectors`` (n, dim), L2-normalised; row i is ScaNN position i
    (also its doc id). ``tree`` replaces :func:`tree_params` (benchmarks compare settings)."""
    vectors = _as_matrix(vectors)
    n = vectors.shape[0]
    builder = _scann_ops().builder(vectors, DEFAULT_NUM_NEIGHBORS, "dot_product")
    docids = _docids(0, n)
    if config_kind(n, ann_threshold=ann_threshold) == BRUTE_FORCE:
        return builder.score_brute_force().build(docids=docids)
    params = tree or tree_params(n)
    with native_stderr_to_log("scann"):  # tree training logs through absl's C++ logging
        return (
            builder.tree(
                num_leaves=params["num_leaves"],
                num_leaves_to_search=params["leaves_to_search"],
                training_sample_size=params["training_sample_size"],
                spherical=params["spherical"],
                random_init=not params["kmeans_plus_plus"],
            )
            .score_ah(
                2,
                anisotropic_quantization_threshold=0.2,
                training_sample_size=params["training_sample_size"],
            )
            .reorder(max(MIN_REORDER, REORDER_PER_K * DEFAULT_NUM_NEIGHBORS))
            .build(docids=docids)
        )


def fsync(path: Path) -> None:
    """Flush one file, or one directory's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            fsync(path)
    fsync(directory)


def save_index(
    directory: Path,
    searcher: Any,
    record_ids: np.ndarray,
    meta: dict,
    delta: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Write the searcher (relocatable asset paths), the id mapping, ``meta`` and the optional
    delta segment ``(record ids, vectors)`` searched exactly beside it; fsync all."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    record_ids = np.asarray(record_ids, dtype=np.int64)
    if record_ids.shape != (searcher.size(),):
        raise ValueError(f"{len(record_ids)} record ids for {searcher.size()} vectors")
    # relative_path=True: absolute paths in scann_assets.pbtxt would break after the rename.
    searcher.serialize(str(directory), relative_path=True)
    np.save(directory / RECORD_IDS_FILE, record_ids)
    if delta is not None and len(delta[0]):
        np.save(directory / DELTA_IDS_FILE, np.asarray(delta[0], dtype=np.int64))
        np.save(directory / DELTA_VECTORS_FILE, np.asarray(delta[1], dtype=np.float32))
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    _fsync_tree(directory)


_NO_IDS = np.empty(0, dtype=np.int64)


@dataclass
class LoadedIndex:
    """A ScaNN searcher over the vectors of the last full build (``record_ids``: position →
    record id, -1 once removed) plus a small *delta* of records added since, scored exactly."""

    searcher: Any
    record_ids: np.ndarray
    meta: dict
    delta_ids: np.ndarray = field(default_factory=lambda: _NO_IDS)
    delta_vectors: np.ndarray | None = None
    directory: Path | None = None
    _positions: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = field(
        default=None, init=False, repr=False
    )

    @classmethod
    def load(cls, directory: Path) -> LoadedIndex:
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text())
        record_ids = np.load(directory / RECORD_IDS_FILE)
        searcher = _scann_ops().load_searcher(str(directory))
        delta_ids, delta_vectors = _NO_IDS, None
        if (directory / DELTA_IDS_FILE).exists():
            delta_ids = np.load(directory / DELTA_IDS_FILE)
            delta_vectors = np.load(directory / DELTA_VECTORS_FILE)
        return cls(searcher, record_ids, meta, delta_ids, delta_vectors, directory)

    @property
    def size(self) -> int:
        return len(self.record_ids) + len(self.delta_ids)

    def search(
        self, query: np.ndarray, k: int, *, leaves: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (record ids int64, scores float32), best first; fewer if the index is
        smaller, or when a tree index finds fewer candidates in the leaves it searches.

        ``query`` (dim,) gives 1-d arrays; (q, dim) gives (q, min(k, n)) arrays, where the
        places of neighbours a tree did not find hold id -1 and score -inf. ``leaves``: how
        many leaves a tree index searches (default: its own ``tree["leaves_to_search"]``).
        """
        query = np.ascontiguousarray(query, dtype=np.float32)
        single = query.ndim == 1
        queries = query[None, :] if single else query
        if queries.ndim != 2 or queries.shape[1] != self.meta["dim"]:
            raise ValueError(f"query shape {query.shape} does not match dim {self.meta['dim']}")
        k = min(int(k), self.size)
        if k < 1:
            raise ValueError("k must be at least 1")
        ids, scores = self._search_base(queries, min(k, len(self.record_ids)), leaves)
        if len(self.delta_ids):
            ids, scores = self._merge_delta(queries, ids, scores, k)
        if single:
            found = scores[0] > -np.inf  # a tree index may find fewer than k: no padding
            return ids[0][found], scores[0][found]
        return ids, scores

    def _merge_delta(
        self, queries: np.ndarray, ids: np.ndarray, scores: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        delta_scores = queries @ self.delta_vectors.T
        all_scores = np.concatenate([scores, delta_scores], axis=1)
        all_ids = np.concatenate([ids, np.broadcast_to(self.delta_ids, delta_scores.shape)], axis=1)
        order = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(all_ids, order, 1), np.take_along_axis(all_scores, order, 1)

    def _search_base(
        self, queries: np.ndarray, k: int, leaves: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        pre_reorder = None
        if self.meta.get("kind") == TREE_AH:
            pre_reorder = min(len(self.record_ids), max(MIN_REORDER, REORDER_PER_K * k))
        else:
            leaves = None
        # Threads only pay off for a batch; a single query stays on the caller's thread.
        search = (
            self.searcher.search_batched_parallel
            if len(queries) > 1
            else (self.searcher.search_batched)
        )
        idx, scores = search(
            queries,
            final_num_neighbors=k,
            pre_reorder_num_neighbors=pre_reorder,
            leaves_to_search=leaves,
        )
        # Doc ids are positions as strings; a position maps to its record id (-1: removed).
        ids = self.record_ids[np.asarray(idx).astype(np.int64).reshape(len(queries), -1)]
        scores = np.asarray(scores, dtype=np.float32).reshape(len(queries), -1)
        # Asked for more neighbours than the searched leaves hold, ScaNN pads its answer with
        # position 0 and a NaN score: mark those places as empty.
        padding = np.isnan(scores)
        if padding.any():
            ids = np.where(padding, -1, ids)
            scores = np.where(padding, -np.inf, scores).astype(np.float32)
        return ids, scores

    def stored_vectors(self, record_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(ids, vectors) of those of ``record_ids`` this index holds, in ascending id order,
        read from its own float copy (memory-mapped ``dataset.npy``) and delta; None when the
        directory holds no such copy (then read the stored vectors instead)."""
        positions = self._position_map()
        if positions is None:
            return None
        sorted_ids, order, dataset = positions
        wanted = np.unique(np.asarray(record_ids, dtype=np.int64))
        at = np.minimum(np.searchsorted(sorted_ids, wanted), max(len(sorted_ids) - 1, 0))
        held = sorted_ids[at] == wanted if len(sorted_ids) else np.zeros(len(wanted), bool)
        rows = np.sort(order[at[held]])  # in file order: the memory map reads forward
        ids = self.record_ids[rows].astype(np.int64)
        vectors = np.asarray(dataset[rows], dtype=np.float32)
        if len(self.delta_ids):
            in_delta = np.isin(self.delta_ids, wanted)
            ids = np.concatenate([ids, self.delta_ids[in_delta]])
            vectors = np.concatenate([vectors, self.delta_vectors[in_delta]])
        ranked = np.argsort(ids, kind="stable")
        return ids[ranked], vectors[ranked]

    def _position_map(self):
        """(live base record ids sorted, their positions, the memory-mapped float copy)."""
        if self._positions is None:
            path = None if self.directory is None else Path(self.directory) / DATASET_FILE
            if path is None or not path.exists():
                return None
            dataset = np.load(path, mmap_mode="r")
            if dataset.dtype != np.float32 or dataset.shape != (
                len(self.record_ids),
                self.meta["dim"],
            ):
                return None
            live = np.flatnonzero(self.record_ids >= 0)
            order = live[np.argsort(self.record_ids[live], kind="stable")]
            self._positions = (self.record_ids[order].astype(np.int64), order, dataset)
        return self._positions
