"""Visual words: each local feature (``search.copies.local``) named by its nearest centre of a
fixed vocabulary, so that pictures sharing many local features can be found without the CNN
(``search.copies.words_index``; docs/copies.md "Candidates from the visual words").

The vocabulary is ``vocabulary.npy`` beside this module: ``WORDS`` centres in the stored
RootSIFT 4-bit descriptor space (k-means of descriptors of pictures the project may ship,
``manage.py copy_vocabulary`` makes it again). It is committed rather than made on each
machine so that every machine names a descriptor by the same word (k-means differs from one
OpenCV / BLAS build to another); ``VERSION`` is its content's hash, stored with each image's
words, so that words made with another vocabulary are made again.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from search.copies.local import LocalFeatures
from search.copies.opencv import cv2

VOCABULARY_FILE = Path(__file__).with_name("vocabulary.npy")
_COUNT = struct.Struct("<H")


@dataclass(frozen=True)
class Vocabulary:
    centres: np.ndarray  # (WORDS, 128) float32
    norms: np.ndarray  # (WORDS,) float32: squared norms of the centres
    version: str  # content hash of the file (12 hex digits)

    @property
    def size(self) -> int:
        return len(self.centres)


@cache
def vocabulary() -> Vocabulary:
    raw = VOCABULARY_FILE.read_bytes()
    centres = np.load(VOCABULARY_FILE).astype(np.float32)
    return Vocabulary(
        centres=np.ascontiguousarray(centres),
        norms=np.einsum("ij,ij->i", centres, centres),
        version=hashlib.sha256(raw).hexdigest()[:12],
    )


def version() -> str:
    """The vocabulary's version: stored words of another are made again."""
    return vocabulary().version


def assign(descriptors: np.ndarray) -> np.ndarray:
    """(n,) uint16: the nearest centre of each descriptor ((n, 128) uint8, as stored)."""
    if not len(descriptors):
        return np.zeros(0, np.uint16)
    words = vocabulary()
    matrix = np.asarray(descriptors, np.float32)
    # |c|² - 2 d·c is |d - c|² less |d|², the same for every centre. cv2.gemm, not numpy's @:
    # see local._ratio_matches (numpy's OpenBLAS spin-waits on both cores for small products).
    products = cv2.gemm(matrix, words.centres, -2.0, None, 0.0, flags=cv2.GEMM_2_T)
    return (products + words.norms).argmin(axis=1).astype(np.uint16)


def words_of(sets: Sequence[LocalFeatures]) -> list[np.ndarray]:
    """Each feature set's words, in keypoint order."""
    return [assign(features.descriptors) for features in sets]


def pack(words: Sequence[np.ndarray]) -> bytes:
    """Several sets' words as one blob: how many sets, each set's length, then the ids
    (uint16, little-endian)."""
    header = _COUNT.pack(len(words)) + b"".join(_COUNT.pack(len(w)) for w in words)
    return header + b"".join(np.asarray(w, "<u2").tobytes() for w in words)


def unpack(blob: bytes) -> list[np.ndarray]:
    (count,) = _COUNT.unpack_from(blob)
    lengths = struct.unpack_from(f"<{count}H", blob, _COUNT.size)
    offset = _COUNT.size * (1 + count)
    ids = np.frombuffer(blob, dtype="<u2", count=sum(lengths), offset=offset)
    return np.split(ids.astype(np.uint16), np.cumsum(lengths)[:-1]) if count else []


def words_of_blob(features_blob: bytes) -> bytes:
    """The packed words of a row's packed local feature sets (``local.pack_sets``): made from
    the stored descriptors, no picture decoded."""
    from search.copies.local import unpack_sets

    return pack(words_of(unpack_sets(features_blob)))
