"""Neural encoders loaded through ``tensorflow_hub.KerasLayer``: a TF Hub URL or a local
TF2 SavedModel directory. A directory may carry a ``crier-encoder.json`` manifest (written by
our own builds) that states its preprocessing, classifier signature and fingerprint."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import numpy as np
from django.conf import settings
from PIL import Image

from search.encoding.preprocessing import scale_pixels

from .base import (
    Encoder,
    EncoderEntry,
    EncoderError,
    l2_normalise,
    make_fingerprint,
    softmax_top,
    with_preprocessing,
)

MANIFEST_NAME = "crier-encoder.json"
CONNECT_TIMEOUT_S = 3.0
FEATURES_OUTPUT_KEY = "feature_vector"  # what our own builds' serving signature returns


@dataclass(frozen=True)
class HubSpec:
    """How to feed and read one model. Pixels become ``(x - offset) / scale``."""

    handle: str
    input_size: int | None = None  # None: the model's fixed input size, else 224
    offset: float = 0.0
    scale: float = 255.0
    crop_fraction: float | None = None  # None: squash the whole image to a square
    logits_signature: str | None = None  # classifier head, if the model has one
    logits_output_key: str | None = None
    label_offset: int = 0  # 1 for 1001-class heads whose class 0 is "background"
    fingerprint: str | None = None  # given by a manifest; otherwise derived


def is_url(handle: str) -> bool:
    return urlparse(str(handle)).scheme in {"http", "https", "gs"}


def read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / MANIFEST_NAME).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EncoderError(f"{directory / MANIFEST_NAME} is unreadable: {exc}") from exc


def spec_for_directory(directory: str | Path, **overrides: Any) -> HubSpec:
    directory = Path(directory).resolve()
    manifest = read_manifest(directory) or {}
    fields = {k: v for k, v in manifest.items() if k in HubSpec.__dataclass_fields__}
    return replace(HubSpec(handle=str(directory), **fields), **overrides)


def _directory_digest(directory: Path) -> str:
    """Graph plus variable index; the index holds a checksum of every tensor."""
    digest = hashlib.sha256()
    for name in ("saved_model.pb", "variables/variables.index"):
        path = directory / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _offline_message(handle: str, reason: object) -> str:
    return (
        f"Cannot load the TF Hub model {handle}: this machine cannot download it ({reason}). "
        "Use the offline default encoder 'efficientnet-lite0' (python manage.py encoder prepare "
        "efficientnet-lite0), or download the model elsewhere and pass its local SavedModel "
        "directory instead of the URL."
    )


def _cached_by_hub(handle: str) -> bool:
    try:
        from tensorflow_hub import compressed_module_resolver

        return Path(compressed_module_resolver._module_dir(handle)).is_dir()
    except Exception:
        return False


def _check_reachable(handle: str) -> None:
    """Fail in seconds rather than hang in urlopen (which has no timeout) when offline."""
    if _cached_by_hub(handle) or os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return
    parsed = urlparse(handle)
    host = parsed.hostname or ""
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    if parsed.scheme == "gs":
        host, port = "storage.googleapis.com", 443
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise EncoderError(_offline_message(handle, exc)) from exc


def _fixed_input_size(layer: Any) -> int | None:
    """The square input size a SavedModel's ``__call__`` was traced for, if it fixes one."""
    try:
        for concrete in layer.resolved_object.__call__.concrete_functions:
            (spec, *_), _ = concrete.structured_input_signature
            height, width = spec.shape[1], spec.shape[2]
            if spec.shape.rank == 4 and height and height == width:
                return int(height)
    except Exception:  # not a traced tf.function; fall back to the default size
        pass
    return None


def _load_layer(handle: str, **kwargs: Any):
    import tensorflow_hub as hub

    if is_url(handle):
        _check_reachable(handle)
    elif not Path(handle).is_dir():
        raise EncoderError(f"No SavedModel directory at {handle}.")
    try:
        return hub.KerasLayer(handle, trainable=False, **kwargs)
    except Exception as exc:
        if is_url(handle):
            raise EncoderError(_offline_message(handle, exc)) from exc
        raise EncoderError(f"Cannot load the SavedModel at {handle}: {exc}") from exc


def derive_fingerprint(spec: HubSpec) -> str:
    """The model's fingerprint: the manifest's, else one from the weights' identity and the
    preprocessing (``spec.input_size`` must be resolved)."""
    if spec.fingerprint:
        return spec.fingerprint
    preprocessing = asdict(spec)
    preprocessing.pop("fingerprint")
    handle = spec.handle
    weights = handle if is_url(handle) else _directory_digest(Path(handle))
    return make_fingerprint(kind="tfhub", weights=weights, **preprocessing)


def vector_fingerprint(spec: HubSpec) -> str:
    """The fingerprint of the vectors made with ``spec``, whichever runtime runs the model
    (TensorFlow or its verified LiteRT conversion: their vectors are the same), and of the
    way images are decoded and resized for it (``PREPROCESSING_VERSION``)."""
    return with_preprocessing(derive_fingerprint(spec))


class TFHubEncoder(Encoder):
    runtime = "tensorflow"

    def __init__(
        self, spec: HubSpec, name: str | None = None, batch_size: int | None = None
    ) -> None:
        import tensorflow as tf

        super().__init__(batch_size)
        # Big batches run through the network in slices: on some CPUs per-image speed falls
        # once early-layer activations stop fitting in cache (docs/benchmarks.md).
        self.inference_slice = max(1, int(settings.CRIER_INFERENCE_SLICE))
        self.name = name or spec.handle
        self.source = spec.handle
        self._features_layer = _load_layer(spec.handle)
        if spec.input_size is None:
            spec = replace(spec, input_size=_fixed_input_size(self._features_layer) or 224)
        self.spec = spec
        self.input_size = size = int(spec.input_size)
        signature = [tf.TensorSpec([None, size, size, 3], tf.float32)]
        self._features = tf.function(self._features_layer, input_signature=signature)
        self._heads = self._logits = None
        if spec.logits_signature:
            # One signature call gives the logits and (for our own builds) the feature vector.
            self._heads_layer = _load_layer(
                spec.handle, signature=spec.logits_signature, signature_outputs_as_dict=True
            )
            self._heads = tf.function(self._heads_layer, input_signature=signature)
            self._logits = lambda images: self._heads(images)[self._logits_key()]
        probe = self._features(tf.zeros([1, size, size, 3], tf.float32)).numpy()
        if probe.ndim != 2:
            raise EncoderError(f"{spec.handle} returns shape {probe.shape}, not a feature vector.")
        self.dim = int(probe.shape[1])
        self.crop_fraction = spec.crop_fraction
        self.fingerprint = vector_fingerprint(spec)

    takes_model_pixels = True

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return self.input_from_pixels(self.model_pixels(image))

    def input_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return scale_pixels(pixels, self.spec.offset, self.spec.scale)

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, dtype=np.float32)
        features = [
            self._features(batch[start : start + self.inference_slice]).numpy()
            for start in range(0, len(batch), self.inference_slice)
        ]
        if not features:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(np.concatenate(features))

    def has_classifier(self) -> bool:
        return self._heads is not None

    def _logits_key(self) -> str:
        return self.spec.logits_output_key or "logits"

    def encode_and_classify_batch(
        self, batch: np.ndarray, top: int = 5
    ) -> tuple[np.ndarray, list[list[tuple[str, float]]] | None]:
        """Both from ONE call of the serving signature, which returns the feature vector
        beside the logits in our own builds (other models: a features call of its own)."""
        if self._heads is None:
            return self.encode_batch(batch), None
        batch = np.asarray(batch, dtype=np.float32)
        features, logits = [], []
        for start in range(0, len(batch), self.inference_slice):
            part = batch[start : start + self.inference_slice]
            outputs = self._heads(part)
            vectors = outputs.get(FEATURES_OUTPUT_KEY)
            features.append((vectors if vectors is not None else self._features(part)).numpy())
            logits.append(outputs[self._logits_key()].numpy())
        if not features:
            return np.zeros((0, self.dim), dtype=np.float32), []
        labels = softmax_top(np.concatenate(logits), top, self.spec.label_offset)
        return l2_normalise(np.concatenate(features)), labels

    def classify_batch(self, batch: np.ndarray, top: int = 5) -> list[list[tuple[str, float]]]:
        if self._heads is None:
            return super().classify_batch(batch, top)
        logits = self._logits(np.asarray(batch, dtype=np.float32)).numpy()
        return softmax_top(logits, top, self.spec.label_offset)


class HubModel(EncoderEntry):
    """A TF Hub model by URL: fetched and cached by TF Hub on first use (needs the network, so
    never selectable), run on TensorFlow."""

    spec: ClassVar[HubSpec]

    @classmethod
    def create(cls) -> Encoder:
        return TFHubEncoder(cls.spec, name=cls.name)


_V2 = "https://tfhub.dev/google/imagenet/efficientnet_v2_imagenet1k_{}/feature_vector/2"
# TF Hub EfficientNetV2 feature vectors: the whole image at the training size, inputs in [0, 1].
HUB_MODELS: tuple[type[HubModel], ...] = tuple(
    type(
        f"EfficientNetV2{variant.upper()}",
        (HubModel,),
        {
            "__module__": __name__,
            "name": f"efficientnet-v2-{variant}",
            "spec": HubSpec(handle=_V2.format(variant), input_size=size),
        },
    )
    for variant, size in {
        "b0": 224,
        "b1": 240,
        "b2": 260,
        "b3": 300,
        "s": 384,
        "m": 480,
        "l": 480,
    }.items()
)
