"""The contract every encoder meets: images in, L2-normalised float32 rows out."""

from __future__ import annotations

import abc
import contextlib
import fcntl
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from django.conf import settings
from PIL import Image

from crier_site.errors import ServiceUnavailable
from search.encoding import preprocessing
from search.encoding.model_inputs import ModelInputRecipe
from search.encoding.preprocessing import (
    ImageSource,
    decode_side,
    model_input_recipe,
    model_pixels,
    open_image,
)
from search.queries.vectors import l2_normalise  # noqa: F401  (the encoders' normalisation)


class EncoderError(ServiceUnavailable):
    """An encoder cannot be built, loaded or used (missing weights, no network, no head...)."""

    code = "encoder_unavailable"


def make_fingerprint(**parts: Any) -> str:
    """Short stable hex digest of everything that decides the vectors (weights identity and
    preprocessing). JSON with sorted keys, so it is the same in every process."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@contextlib.contextmanager
def exclusive_lock(path: Path):
    """Hold an exclusive ``flock`` on ``path`` (created if missing): one builder at a time,
    across processes."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def softmax_top(
    logits: np.ndarray, top: int, label_offset: int = 0
) -> list[list[tuple[str, float]]]:
    """Top ``top`` (ImageNet label, probability) pairs of each row of ``logits``."""
    from .labels import imagenet_label

    logits = np.asarray(logits, dtype=np.float64)
    logits = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    results = []
    for row in probs:
        best = np.argsort(-row)[:top]
        results.append([(imagenet_label(int(i) - label_offset), float(row[i])) for i in best])
    return results


def with_preprocessing(model_fingerprint: str) -> str:
    """An encoder's fingerprint: its model's, plus how images are decoded and resized for it
    (``PREPROCESSING_VERSION``), so a change there re-encodes stored vectors. Kept apart from
    the model's own fingerprint so prepared SavedModels are not rebuilt for it."""
    version = preprocessing.PREPROCESSING_VERSION  # read at call time: a change shows at once
    return make_fingerprint(model=model_fingerprint, preprocessing=version)


class EncoderEntry:
    """What an encoder says of itself to the registry (``registry.ENCODERS`` lists these
    classes), all of it known without building or loading a model. docs/encoders.md, "Adding
    an encoder"."""

    name: ClassVar[str]
    """The name corpora store and settings and commands use."""
    label: ClassVar[str] = ""
    """What people read in the encoder choice lists."""
    selectable: ClassVar[bool] = False
    """Offered to users for new corpora (it must work offline); else settings and commands only."""

    @classmethod
    def create(cls) -> Encoder:
        """A new encoder (the registry keeps one per process)."""
        raise NotImplementedError

    @classmethod
    def is_prepared(cls) -> bool:
        """Whether ``create`` needs to build or download nothing (the readiness probe asks)."""
        return True

    @classmethod
    def prepared_input_recipe(cls) -> ModelInputRecipe | None:
        """How an upload becomes this encoder's input (``Encoder.model_input_recipe``), known
        without loading a model; None when it is not known cheaply (uploads are then decoded
        again by the encoding job)."""
        return None


class Encoder(EncoderEntry, abc.ABC):
    name: str
    dim: int
    input_size: int
    source: str
    batch_size: int
    runtime: str = "numpy"  # what runs the model: "tensorflow", "litert" or plain "numpy"

    fingerprint_parts: ClassVar[Mapping[str, Any]] = {}
    """Everything that decides the vectors besides the shared preprocessing (weights' identity,
    sizes, a version to bump when the code changes). ``fingerprint`` adds
    ``PREPROCESSING_VERSION`` to it."""

    def __init__(self, batch_size: int | None = None) -> None:
        self.batch_size = int(batch_size or settings.CRIER_ENCODE_BATCH_SIZE)

    @property
    def fingerprint(self) -> str:
        """Identifies the vectors: stored with each one, so vectors of another fingerprint
        (another encoder, other weights, another preprocessing) are encoded again. Encoders
        that derive it otherwise (from a model's manifest) assign it."""
        assigned = self.__dict__.get("_fingerprint")
        if assigned is not None:
            return assigned
        if not self.fingerprint_parts:
            raise NotImplementedError(f"{type(self).__name__} declares no fingerprint_parts")
        return with_preprocessing(make_fingerprint(**self.fingerprint_parts))

    @fingerprint.setter
    def fingerprint(self, value: str) -> None:
        self._fingerprint = value

    @classmethod
    def create(cls) -> Encoder:
        return cls()

    @classmethod
    def prepared_input_recipe(cls) -> ModelInputRecipe | None:
        """A model-free encoder is cheap to make: ask one. Encoders that load a network
        override this (or keep None)."""
        return cls().model_input_recipe() if cls.takes_model_pixels else None

    @abc.abstractmethod
    def preprocess(self, image: Image.Image) -> np.ndarray:
        """One RGB image to a model-ready float32 array. Pure numpy/PIL, thread-safe."""

    @abc.abstractmethod
    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        """Stacked ``preprocess`` outputs to ``(n, dim)`` float32 rows, L2-normalised."""

    crop_fraction: float | None = None  # see search.encoding.preprocessing.resize_for_model

    @property
    def decode_side(self) -> int:
        """The short side an image keeps when decoded for this encoder (>= 2x what it sees)."""
        return decode_side(self.input_size, self.crop_fraction)

    # Encoders whose ``preprocess`` is ``input_from_pixels(model_pixels(image))`` say so; their
    # uploads' model inputs are then made by the upload check (search.encoding.model_inputs).
    takes_model_pixels: bool = False

    def model_pixels(self, image: Image.Image) -> np.ndarray:
        """What the network sees of ``image`` (decoded at ``decode_side``): uint8 pixels,
        ``(input_size, input_size, 3)``."""
        return model_pixels(image, size=self.input_size, crop_fraction=self.crop_fraction)

    def input_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """``model_pixels`` to the array ``encode_batch`` takes (``takes_model_pixels`` only)."""
        raise NotImplementedError(f"{type(self).__name__} does not take model pixels")

    def model_input_recipe(self) -> ModelInputRecipe | None:
        """How an upload becomes this encoder's input without a second decode, if it can."""
        if not self.takes_model_pixels:
            return None
        return model_input_recipe(self.fingerprint, self.input_size, self.crop_fraction)

    def has_classifier(self) -> bool:
        return False

    def classify_batch(self, batch: np.ndarray, top: int = 5) -> list[list[tuple[str, float]]]:
        raise EncoderError(f"Encoder {self.name!r} has no classifier head.")

    def encode_and_classify_batch(
        self, batch: np.ndarray, top: int = 5
    ) -> tuple[np.ndarray, list[list[tuple[str, float]]] | None]:
        """Vectors (as ``encode_batch``) and, when the encoder has a classifier head, the top
        ``top`` labels per image (else None). What the encoding job calls. The Lite encoders
        get both from one forward pass (LiteRT, and TensorFlow's serving signature); this
        default runs the network once for each."""
        vectors = self.encode_batch(batch)
        return vectors, (self.classify_batch(batch, top) if self.has_classifier() else None)

    def _batches(self, images: Sequence[ImageSource]):
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            pictures = (open_image(image, min_side=self.decode_side) for image in chunk)
            yield np.stack([self.preprocess(picture) for picture in pictures])

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

    def encode_and_classify(
        self, images: Sequence[ImageSource], top: int = 5
    ) -> tuple[np.ndarray, list[list[tuple[str, float]]] | None]:
        """``encode`` and ``classify`` of ``images`` from one pass over them; labels are None
        for an encoder without a classifier head."""
        if not len(images):
            return np.zeros((0, self.dim), dtype=np.float32), (
                [] if self.has_classifier() else None
            )
        vectors, labels = [], []
        for batch in self._batches(images):
            batch_vectors, batch_labels = self.encode_and_classify_batch(batch, top)
            vectors.append(batch_vectors)
            labels.extend(batch_labels or [])
        return np.concatenate(vectors), (labels if self.has_classifier() else None)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "runtime": self.runtime,
            "dim": self.dim,
            "input_size": self.input_size,
            "fingerprint": self.fingerprint,
            "source": self.source,
            "batch_size": self.batch_size,
            "classifier": self.has_classifier(),
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} dim={self.dim} fp={self.fingerprint}>"
