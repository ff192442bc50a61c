"""Labelled image sets to evaluate on. Images load lazily; labels decide relevance.

A dataset knows its images, their labels and its default protocol (see ``splits``). Its
``cache_key`` names exactly these images, so cached vectors are reused only for the same set.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from corpora.validation import prepare_picture
from search.encoding.preprocessing import open_image
from search.evaluation import near_duplicates

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
CLASS_SPLIT = "class-split"
LEAVE_ONE_OUT = "leave-one-out"


class DatasetError(ValueError):
    """The dataset argument names nothing usable."""


@dataclass(frozen=True)
class EvalDataset:
    name: str
    cache_key: str
    labels: np.ndarray  # (n,) int64, index into class_names
    class_names: list[str]
    protocol: str
    # (row, min_side) → the image; files are decoded at reduced scale like uploads are.
    loader: Callable[[int, int | None], Image.Image]

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, row: int, *, min_side: int | None = None) -> Image.Image:
        """Row ``row`` as a PIL RGB image, its short side reduced to no less than ``min_side``
        the way CRIER prepares uploads and queries for an encoder."""
        return prepare_picture(self.loader(row, min_side), min_side=min_side)


def _first_per_class(labels: np.ndarray, limit: int | None) -> np.ndarray:
    """Rows of the first ``limit`` items of each class, in their original order."""
    if limit is None:
        return np.arange(len(labels))
    if limit < 1:
        raise DatasetError("--limit-per-class must be at least 1")
    keep = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        keep[np.flatnonzero(labels == label)[:limit]] = True
    return np.flatnonzero(keep)


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): big-endian dims after a 4-byte magic, then uint8 data."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_mnist(*, limit_per_class: int | None, root: Path = FASHION_MNIST_DIR) -> EvalDataset:
    """Fashion-MNIST from Debian's ``dataset-fashion-mnist``: the test set first, then train."""
    try:
        images = np.concatenate(
            [_read_idx(root / f"{part}-images-idx3-ubyte.gz") for part in ("t10k", "train")]
        )
        labels = np.concatenate(
            [_read_idx(root / f"{part}-labels-idx1-ubyte.gz") for part in ("t10k", "train")]
        ).astype(np.int64)
    except FileNotFoundError as exc:
        raise DatasetError(
            f"Fashion-MNIST not found in {root}: apt-get install dataset-fashion-mnist"
        ) from exc
    rows = _first_per_class(labels, limit_per_class)
    images, labels = images[rows], labels[rows]
    return EvalDataset(
        name="fashion-mnist",
        cache_key=f"fashion-mnist-{limit_per_class or 'all'}",
        labels=labels,
        class_names=FASHION_MNIST_CLASSES,
        protocol=CLASS_SPLIT,
        loader=lambda row, _: Image.fromarray(images[row], mode="L"),
    )


def image_folder(root: Path, *, limit_per_class: int | None) -> EvalDataset:
    """One subfolder per class (ImageFolder layout), image files anywhere below it."""
    root = Path(root)
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    paths: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(
            p for p in class_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        paths += files
        labels += [label] * len(files)
    if len(class_dirs) < 2 or not paths:
        raise DatasetError(f"{root} needs at least two class subfolders holding images")
    label_array = np.asarray(labels, dtype=np.int64)
    rows = _first_per_class(label_array, limit_per_class)
    paths = [paths[r] for r in rows]
    digest = hashlib.sha1()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return EvalDataset(
        name=root.name,
        cache_key=f"folder-{root.name}-{digest.hexdigest()[:16]}",
        labels=label_array[rows],
        class_names=[d.name for d in class_dirs],
        protocol=CLASS_SPLIT,
        loader=lambda row, min_side: open_image(paths[row], min_side=min_side),
    )


def near_duplicate_set(*, limit_per_class: int | None) -> EvalDataset:
    """Real photos shipped with scikit-image/matplotlib, each with edited copies; a class is one
    photo, so the relevant items of a query are the other versions of the same photo."""
    photos = near_duplicates.find_photos()
    if len(photos) < 2:
        raise DatasetError("near-duplicates needs scikit-image's sample photos")
    edits = near_duplicates.EDITS[: (limit_per_class or len(near_duplicates.EDITS))]
    items = [(p, e) for p in range(len(photos)) for e in range(len(edits))]
    return EvalDataset(
        name="near-duplicates",
        cache_key=f"near-duplicates-{near_duplicates.VERSION}-{len(photos)}x{len(edits)}",
        labels=np.asarray([p for p, _ in items], dtype=np.int64),
        class_names=[p.stem for p in photos],
        protocol=LEAVE_ONE_OUT,
        loader=lambda row, _: near_duplicates.render(photos[items[row][0]], edits[items[row][1]]),
    )


def load_dataset(spec: str, *, limit_per_class: int | None = None) -> EvalDataset:
    """``fashion-mnist``, ``near-duplicates`` or a path to an ImageFolder directory."""
    if spec == "fashion-mnist":
        return fashion_mnist(limit_per_class=limit_per_class)
    if spec == "near-duplicates":
        return near_duplicate_set(limit_per_class=limit_per_class)
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise DatasetError(f"{spec!r} is neither fashion-mnist, near-duplicates nor a directory")
    return image_folder(path, limit_per_class=limit_per_class)
