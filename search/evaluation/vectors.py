"""Encode a dataset once per encoder and keep the vectors on disk.

The cache file is named by the dataset's ``cache_key`` and the encoder's fingerprint, so a
re-run, a second index type or a new split seed reuse the vectors, while new weights or a new
preprocessing (a new fingerprint) encode again.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from search.evaluation.datasets import EvalDataset


def cache_path(cache_dir: Path, dataset: EvalDataset, encoder: Any) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{dataset.cache_key}--{encoder.name}")
    digest = hashlib.sha1(str(encoder.fingerprint).encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{slug}--{digest}.npy"


def encode_dataset(dataset: EvalDataset, encoder: Any, *, progress: bool = True) -> np.ndarray:
    """(n, dim) float32 rows for every image of ``dataset``, in row order, with a progress bar."""
    out = np.zeros((len(dataset), encoder.dim), dtype=np.float32)
    batch_size = max(1, int(encoder.batch_size))
    with tqdm(
        total=len(dataset), desc=f"{encoder.name} · {dataset.name}", unit="img",
        disable=not progress, leave=False,
    ) as bar:  # fmt: skip
        for start in range(0, len(dataset), batch_size):
            rows = range(start, min(start + batch_size, len(dataset)))
            pictures = (dataset.image(row, min_side=encoder.decode_side) for row in rows)
            batch = np.stack([encoder.preprocess(picture) for picture in pictures])
            out[start : start + len(rows)] = encoder.encode_batch(batch)
            bar.update(len(rows))
    return out


def cached_vectors(
    dataset: EvalDataset, encoder: Any, *, cache_dir: Path, progress: bool = True
) -> tuple[np.ndarray, bool]:
    """(vectors, came_from_cache). A cache file of the wrong shape is ignored and rewritten."""
    path = cache_path(cache_dir, dataset, encoder)
    if path.is_file():
        vectors = np.load(path)
        if vectors.shape == (len(dataset), encoder.dim):
            return vectors, True
    vectors = encode_dataset(dataset, encoder, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, vectors)
    os.replace(tmp, path)  # readers never see a half-written file
    return vectors, False
