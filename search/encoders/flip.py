"""Flip-averaged vectors: an image's vector plus its mirror image's, re-normalised.

A mirrored copy then gets the same vector as its original, at twice the inference cost. Any
encoder can be wrapped: ask for ``"<name>+flip"`` (docs/evaluation.md has what it changes)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .base import Encoder, l2_normalise, make_fingerprint

SUFFIX = "+flip"


class FlipAveragedEncoder(Encoder):
    def __init__(self, base: Encoder) -> None:
        super().__init__(base.batch_size)
        self.base = base
        self.name = f"{base.name}{SUFFIX}"
        self.dim = base.dim
        self.input_size = base.input_size
        self.crop_fraction = base.crop_fraction
        self.source = base.source
        self.fingerprint = make_fingerprint(kind="flip-average", base=base.fingerprint)

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return self.base.preprocess(image)

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        # Preprocessing crops symmetrically, so mirroring the array equals preprocessing the
        # mirrored image.
        batch = np.asarray(batch, dtype=np.float32)
        mirrored = np.ascontiguousarray(batch[:, :, ::-1, :])
        return l2_normalise(self.base.encode_batch(batch) + self.base.encode_batch(mirrored))

    def has_classifier(self) -> bool:
        return self.base.has_classifier()

    def classify_batch(self, batch: np.ndarray, top: int = 5) -> list[list[tuple[str, float]]]:
        return self.base.classify_batch(batch, top)

    def encode_and_classify_batch(
        self, batch: np.ndarray, top: int = 5
    ) -> tuple[np.ndarray, list[list[tuple[str, float]]] | None]:
        batch = np.asarray(batch, dtype=np.float32)
        vectors, labels = self.base.encode_and_classify_batch(batch, top)
        mirrored = self.base.encode_batch(np.ascontiguousarray(batch[:, :, ::-1, :]))
        return l2_normalise(vectors + mirrored), labels
