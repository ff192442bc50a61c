"""The contract every encoder meets: images in, L2-normalised float32 rows out."""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.conf import settings
from PIL import Image

from crier_site.errors import ServiceUnavailable
from search.preprocessing import ImageSource, open_image
from search.vectors import l2_normalise  # noqa: F401  (the encoders' normalisation)


class EncoderError(ServiceUnavailable):
    """An encoder cannot be built, loaded or used (missing weights, no network, no head...)."""

    code = "encoder_unavailable"


def make_fingerprint(**parts: Any) -> str:
    """Short stable hex digest of everything that decides the vectors (weights identity and
    preprocessing). JSON with sorted keys, so it is the same in every process."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class Encoder(abc.ABC):
    name: str
    dim: int
    input_size: int
    fingerprint: str
    source: str
    batch_size: int

    def __init__(self, batch_size: int | None = None) -> None:
        self.batch_size = int(batch_size or settings.CRIER_ENCODE_BATCH_SIZE)

    @abc.abstractmethod
    def preprocess(self, image: Image.Image) -> np.ndarray:
        """One RGB image to a model-ready float32 array. Pure numpy/PIL, thread-safe."""

    @abc.abstractmethod
    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        """Stacked ``preprocess`` outputs to ``(n, dim)`` float32 rows, L2-normalised."""

    def has_classifier(self) -> bool:
        return False

    def classify_batch(self, batch: np.ndarray, top: int = 5) -> list[list[tuple[str, float]]]:
        raise EncoderError(f"Encoder {self.name!r} has no classifier head.")

    def _batches(self, images: Sequence[ImageSource]):
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            yield np.stack([self.preprocess(open_image(image)) for image in chunk])

    def encode(self, images: Sequence[ImageSource]) -> np.ndarray:
        """Open, preprocess and encode ``images`` in chunks of ``batch_size``."""
        if not len(images):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate([self.encode_batch(batch) for batch in self._batches(images)])

    def classify(
        self, images: Sequence[ImageSource], top: int = 5
    ) -> list[list[tuple[str, float]]]:
        """Top ``top`` (label, probability) pairs per image; EncoderError without a head."""
        if not self.has_classifier():
            raise EncoderError(f"Encoder {self.name!r} has no classifier head.")
        results: list[list[tuple[str, float]]] = []
        for batch in self._batches(images):
            results.extend(self.classify_batch(batch, top))
        return results

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dim": self.dim,
            "input_size": self.input_size,
            "fingerprint": self.fingerprint,
            "source": self.source,
            "batch_size": self.batch_size,
            "classifier": self.has_classifier(),
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} dim={self.dim} fp={self.fingerprint}>"
