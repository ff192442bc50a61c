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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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
META_FILE = "meta.json"


def _scann_ops():
    # Imported lazily: `import scann` pulls in TensorFlow (seconds), which processes that never
    # touch an index (migrations, the admin) should not pay for.
    from scann import scann_ops_pybind

    return scann_ops_pybind


def tree_params(n: int) -> dict[str, int]:
    """Partitioning parameters for ``n`` vectors.

    ~sqrt(n) leaves (so a leaf holds ~sqrt(n) vectors), searching ~8% of them but at least 8:
    on clustered 1280-d vectors this keeps recall@10 >= 0.95 at 10k-100k (benchmarks/ann.py).
    Training on fewer vectors (100 per leaf) cost recall at 100k (0.945 vs 0.988).
    """
    num_leaves = max(16, min(2_000, round(math.sqrt(n))))
    leaves_to_search = min(num_leaves, max(8, math.ceil(num_leaves * 0.08)))
    return {
        "num_leaves": num_leaves,
        "leaves_to_search": leaves_to_search,
        "training_sample_size": min(n, 100_000),
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


def build_searcher(vectors: np.ndarray, *, ann_threshold: int) -> Any:
    """A ScaNN searcher over ``vectors`` (n, dim), L2-normalised; row i is ScaNN position i.

    Positions are also ScaNN's doc ids, which is what lets :func:`append_vectors` add rows
    later without rebuilding.
    """
    vectors = _as_matrix(vectors)
    n = vectors.shape[0]
    builder = _scann_ops().builder(vectors, DEFAULT_NUM_NEIGHBORS, "dot_product")
    docids = _docids(0, n)
    if config_kind(n, ann_threshold=ann_threshold) == BRUTE_FORCE:
        return builder.score_brute_force().build(docids=docids)
    params = tree_params(n)
    return (
        builder.tree(
            num_leaves=params["num_leaves"],
            num_leaves_to_search=params["leaves_to_search"],
            training_sample_size=params["training_sample_size"],
        )
        .score_ah(
            2,
            anisotropic_quantization_threshold=0.2,
            training_sample_size=params["training_sample_size"],
        )
        .reorder(max(MIN_REORDER, REORDER_PER_K * DEFAULT_NUM_NEIGHBORS))
        .build(docids=docids)
    )


def append_vectors(searcher: Any, vectors: np.ndarray) -> None:
    """Add rows at the next positions of a searcher made by :func:`build_searcher`.

    The partitions and codebooks are not retrained: fine for a small share of new rows, which
    is why ``search.indexing`` rebuilds from scratch once too much has changed.
    """
    vectors = _as_matrix(vectors)
    searcher.upsert(docids=_docids(searcher.size(), len(vectors)), database=vectors)


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_index(directory: Path, searcher: Any, record_ids: np.ndarray, meta: dict) -> None:
    """Write the searcher (relocatable asset paths), the id mapping and ``meta``; fsync all."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    record_ids = np.asarray(record_ids, dtype=np.int64)
    if record_ids.shape != (searcher.size(),):
        raise ValueError(f"{len(record_ids)} record ids for {searcher.size()} vectors")
    # relative_path=True: absolute paths in scann_assets.pbtxt would break after the rename.
    searcher.serialize(str(directory), relative_path=True)
    np.save(directory / RECORD_IDS_FILE, record_ids)
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    _fsync_tree(directory)


@dataclass
class LoadedIndex:
    searcher: Any
    record_ids: np.ndarray
    meta: dict

    @classmethod
    def load(cls, directory: Path) -> LoadedIndex:
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text())
        record_ids = np.load(directory / RECORD_IDS_FILE)
        searcher = _scann_ops().load_searcher(str(directory))
        return cls(searcher=searcher, record_ids=record_ids, meta=meta)

    @property
    def size(self) -> int:
        return len(self.record_ids)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (record ids int64, scores float32), best first; fewer if the index is smaller.

        ``query`` (dim,) gives 1-d arrays; (q, dim) gives (q, min(k, n)) arrays.
        """
        query = np.ascontiguousarray(query, dtype=np.float32)
        single = query.ndim == 1
        queries = query[None, :] if single else query
        if queries.ndim != 2 or queries.shape[1] != self.meta["dim"]:
            raise ValueError(f"query shape {query.shape} does not match dim {self.meta['dim']}")
        k = min(int(k), self.size)
        if k < 1:
            raise ValueError("k must be at least 1")
        pre_reorder = None
        if self.meta.get("kind") == TREE_AH:
            pre_reorder = min(self.size, max(MIN_REORDER, REORDER_PER_K * k))
        # Threads only pay off for a batch; a single query stays on the caller's thread.
        search = (
            self.searcher.search_batched_parallel
            if len(queries) > 1
            else (self.searcher.search_batched)
        )
        idx, scores = search(queries, final_num_neighbors=k, pre_reorder_num_neighbors=pre_reorder)
        # Doc ids are positions as strings; a position maps to its record id (-1: removed).
        ids = self.record_ids[np.asarray(idx).astype(np.int64)]
        scores = np.asarray(scores, dtype=np.float32)
        return (ids[0], scores[0]) if single else (ids, scores)
