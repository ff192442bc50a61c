"""Flip-averaged vectors: an image's vector plus its mirror image's, re-normalised.

A mirrored copy then gets the same vector as its original, at twice the inference cost. Any
encoder can be wrapped: ask for ``"<name>+flip"`` (docs/evaluation.md has what it changes)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .base import Encoder, l2_normalise, make_fingerprint

SUFFIX = "+flip"


def flip_fingerprint(base_fingerprint: str) -> str:
    """The flip-averaged vectors' fingerprint, from that of the encoder they wrap."""
    return make_fingerprint(kind="flip-average", base=base_fingerprint)


class FlipAveragedEncoder(Encoder):
    def __init__(self, base: Encoder) -> None:
        super().__init__(base.batch_size)
        self.base = base
        self.name = f"{base.name}{SUFFIX}"
        self.dim = base.dim
        self.input_size = base.input_size
        self.crop_fraction = base.crop_fraction
        self.source = base.source
        self.fingerprint = flip_fingerprint(base.fingerprint)
        self.takes_model_pixels = base.takes_model_pixels

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return self.base.preprocess(image)

    def model_pixels(self, image: Image.Image) -> np.ndarray:
        return self.base.model_pixels(image)

    def input_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return self.base.input_from_pixels(pixels)

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
