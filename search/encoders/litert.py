"""LiteRT (XNNPACK) inference for SavedModel encoders.

``convert_and_verify`` turns a loaded ``TFHubEncoder`` of a local SavedModel into
``model.tflite`` inside that directory (TF Lite converter, float32), runs the test photos
through both runtimes and keeps the file only when every embedding agrees (cosine ≥
``MIN_COSINE``; the class probabilities too when the model has a classifier). The outcome is
written last, as ``crier-litert.json`` with the file's SHA-256, so a half-written or failed
conversion is never used: ``usable_model`` trusts nothing else.

``LiteRTEncoder`` then runs the same preprocessing with ``ai_edge_litert``'s interpreter, one
interpreter per thread at a time (an interpreter is not thread-safe), and never imports
TensorFlow.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from PIL import Image

from search.encoding.preprocessing import scale_pixels

from .base import Encoder, EncoderError, exclusive_lock, l2_normalise, softmax_top
from .tfhub import derive_fingerprint, vector_fingerprint

logger = logging.getLogger(__name__)

MODEL_NAME = "model.tflite"
RECORD_NAME = "crier-litert.json"
LOCK_NAME = ".crier-litert.lock"
MIN_COSINE = 0.9999
FEATURES, LOGITS = "feature_vector", "logits"
# The photos every conversion is checked on (scikit-image's samples, installed with it).
CHECK_PHOTOS = (
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "astronaut.png",
    "camera.png",
)


@dataclass(frozen=True)
class Verification:
    """What ``crier-litert.json`` records about one conversion."""

    passed: bool
    fingerprint: str  # the SavedModel's (derive_fingerprint): the .tflite belongs to it
    input_size: int
    dim: int
    classifier: bool
    min_cosine: float
    min_logits_cosine: float | None
    photos: int
    sha256: str
    reason: str = ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_verification(directory: Path) -> Verification | None:
    try:
        data = json.loads((Path(directory) / RECORD_NAME).read_text())
        return Verification(**{k: data[k] for k in Verification.__dataclass_fields__ if k in data})
    except (OSError, ValueError, TypeError):
        return None


def usable_model(directory: Path, fingerprint: str | None) -> tuple[Path, Verification] | None:
    """The verified ``.tflite`` of ``directory`` if it passed, belongs to ``fingerprint`` (when
    given) and is byte for byte the file that was checked; otherwise None."""
    directory = Path(directory)
    record = read_verification(directory)
    model = directory / MODEL_NAME
    if record is None or not record.passed or not model.is_file():
        return None
    if fingerprint is not None and record.fingerprint != fingerprint:
        return None
    if _sha256(model) != record.sha256:
        return None
    return model, record


def check_images() -> list[Image.Image]:
    from corpora.examples import sample_photo_path

    return [Image.open(sample_photo_path(name)).convert("RGB") for name in CHECK_PHOTOS]


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.sum(l2_normalise(a) * l2_normalise(b), axis=1)))


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; other processes read it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _convert(tf_encoder) -> bytes:
    """Float32 flatbuffer with one ``serving_default`` signature: ``images`` in,
    ``feature_vector`` (and ``logits`` when the model classifies) out, from one graph."""
    import tensorflow as tf

    spec = tf_encoder.spec
    if spec.logits_signature:
        # Features and logits must come out of one forward pass; our builds' serving signature
        # returns both. A signature that does not cannot be converted into one graph.
        converter = tf.lite.TFLiteConverter.from_saved_model(
            spec.handle, signature_keys=[spec.logits_signature]
        )
    else:
        size = tf_encoder.input_size
        signature = [tf.TensorSpec([None, size, size, 3], tf.float32, name="images")]

        @tf.function(input_signature=signature)
        def serve(images):
            return {FEATURES: tf_encoder._features_layer(images)}

        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [serve.get_concrete_function()], tf_encoder._features_layer
        )
    return converter.convert()


def _check(tf_encoder, model: Path) -> Verification:
    images = check_images()
    batch = np.stack([tf_encoder.preprocess(image) for image in images])
    reference = tf_encoder.encode_batch(batch)
    interpreter = _interpreter(model, threads=1)
    outputs = interpreter.get_signature_list().get("serving_default", {}).get("outputs", [])
    common = {
        "fingerprint": derive_fingerprint(tf_encoder.spec),
        "input_size": tf_encoder.input_size,
        "dim": tf_encoder.dim,
        "classifier": tf_encoder.has_classifier(),
        "photos": len(images),
        "sha256": _sha256(model),
    }
    wanted = {FEATURES, LOGITS} if tf_encoder.has_classifier() else {FEATURES}
    if not wanted <= set(outputs):
        return Verification(
            passed=False, min_cosine=0.0, min_logits_cosine=None,
            reason=f"the converted model outputs {sorted(outputs)}, not {sorted(wanted)}",
            **common,
        )  # fmt: skip
    runner = interpreter.get_signature_runner("serving_default")
    results = [runner(images=batch[i : i + 1]) for i in range(len(batch))]
    features = np.concatenate([r[FEATURES] for r in results])
    cosine = _min_cosine(features, reference) if features.shape == reference.shape else 0.0
    logits_cosine = None
    if tf_encoder.has_classifier():
        tf_logits = tf_encoder._logits(batch).numpy()
        logits_cosine = _min_cosine(np.concatenate([r[LOGITS] for r in results]), tf_logits)
    passed = cosine >= MIN_COSINE and (logits_cosine is None or logits_cosine >= MIN_COSINE)
    reason = "" if passed else f"outputs differ from TensorFlow's (min cosine {cosine:.6f})"
    return Verification(
        passed=passed, min_cosine=cosine, min_logits_cosine=logits_cosine, reason=reason, **common
    )


def convert_and_verify(tf_encoder) -> Verification:
    """Convert ``tf_encoder``'s SavedModel to ``model.tflite`` beside it and check it on the
    test photos. A failure (conversion error or different outputs) is recorded, the file is
    removed and TensorFlow stays in use; it never raises for a model that does not convert."""
    directory = Path(tf_encoder.source)
    try:
        with exclusive_lock(directory / LOCK_NAME):
            return _convert_locked(tf_encoder, directory)
    except OSError as exc:  # a read-only directory, a full disk
        logger.warning("Cannot write a LiteRT model into %s: %s", directory, exc)
        return _failure(tf_encoder, f"{type(exc).__name__}: {exc}")


def _failure(tf_encoder, reason: str) -> Verification:
    return Verification(
        passed=False, fingerprint=derive_fingerprint(tf_encoder.spec),
        input_size=tf_encoder.input_size,
        dim=tf_encoder.dim, classifier=tf_encoder.has_classifier(), min_cosine=0.0,
        min_logits_cosine=None, photos=0, sha256="", reason=reason[:500],
    )  # fmt: skip


def _convert_locked(tf_encoder, directory: Path) -> Verification:
    done = usable_model(directory, derive_fingerprint(tf_encoder.spec))
    if done is not None:  # another process converted it meanwhile
        return done[1]
    model = directory / MODEL_NAME
    candidate = directory / f".{MODEL_NAME}.checking"
    try:
        _write_atomically(candidate, _convert(tf_encoder))
        verification = _check(tf_encoder, candidate)
    except Exception as exc:  # converter errors come in many types
        logger.warning("LiteRT conversion of %s failed: %s", directory, exc)
        verification = _failure(tf_encoder, f"{type(exc).__name__}: {exc}")
    if verification.passed:
        os.replace(candidate, model)
    else:
        candidate.unlink(missing_ok=True)
        model.unlink(missing_ok=True)
        logger.warning("Not using LiteRT for %s: %s", directory, verification.reason)
    _write_atomically(directory / RECORD_NAME, json.dumps(asdict(verification), indent=2).encode())
    return verification


def _interpreter(model: Path, threads: int):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # BUILTIN applies the default delegate, XNNPACK, to every op it supports.
    return Interpreter(
        model_path=str(model),
        num_threads=max(1, threads),
        experimental_op_resolver_type=OpResolverType.BUILTIN,
    )


class LiteRTEncoder(Encoder):
    """A verified ``.tflite`` run by LiteRT, with the TensorFlow encoder's preprocessing and
    vector fingerprint (the vectors are the same, so stored vectors and indices stay valid)."""

    runtime = "litert"

    def __init__(
        self,
        spec,
        model: Path,
        verification: Verification,
        name: str | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(batch_size)
        self.spec = replace(spec, input_size=int(verification.input_size))
        self.model_path = Path(model)
        self.name = name or spec.handle
        self.source = spec.handle
        self.input_size = int(verification.input_size)
        self.dim = int(verification.dim)
        self.crop_fraction = self.spec.crop_fraction
        self.fingerprint = vector_fingerprint(self.spec)
        self._classifier = verification.classifier
        self.threads = max(1, int(settings.CRIER_LITERT_THREADS))
        # Images per interpreter call. XNNPACK was fastest at 1 on 2 cores (docs/benchmarks.md).
        self.inference_slice = max(1, int(settings.CRIER_LITERT_BATCH))
        # Interpreters are not thread-safe: each call borrows an idle one (or makes one), so
        # every thread that encodes at the same time has its own. Pooled rather than
        # thread-local because runserver starts a thread per request, and building an
        # interpreter costs ~30 ms.
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        with self._runner():  # load now: a broken file fails here, not at the first upload
            pass

    def _new_runner(self):
        try:
            interpreter = _interpreter(self.model_path, self.threads)
            return interpreter.get_signature_runner("serving_default")
        except (ValueError, RuntimeError) as exc:
            raise EncoderError(f"Cannot load {self.model_path} with LiteRT: {exc}") from exc

    @contextlib.contextmanager
    def _runner(self):
        try:
            runner = self._idle.get_nowait()
        except queue.Empty:
            runner = self._new_runner()
        try:
            yield runner
        finally:
            self._idle.put(runner)

    takes_model_pixels = True

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return self.input_from_pixels(self.model_pixels(image))

    def input_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return scale_pixels(pixels, self.spec.offset, self.spec.scale)

    def _infer(self, batch: np.ndarray, with_logits: bool) -> dict[str, np.ndarray]:
        batch = np.asarray(batch, dtype=np.float32)
        step = self.inference_slice
        names = (FEATURES, LOGITS) if with_logits else (FEATURES,)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
        with self._runner() as runner:
            for start in range(0, len(batch), step):
                chunk = batch[start : start + step]
                if len(chunk) < step:  # a fixed input shape keeps the interpreter's allocation
                    padding = np.zeros((step - len(chunk), *chunk.shape[1:]), np.float32)
                    chunk = np.concatenate([chunk, padding])
                result = runner(images=chunk)
                for name in names:
                    parts[name].append(result[name][: len(batch) - start])
        if not len(batch):
            return {FEATURES: np.zeros((0, self.dim), np.float32)}
        return {name: np.concatenate(rows) for name, rows in parts.items()}

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        return l2_normalise(self._infer(batch, with_logits=False)[FEATURES])

    def has_classifier(self) -> bool:
        return self._classifier

    def classify_batch(self, batch: np.ndarray, top: int = 5) -> list[list[tuple[str, float]]]:
        return self.encode_and_classify_batch(batch, top)[1]

    def encode_and_classify_batch(
        self, batch: np.ndarray, top: int = 5
    ) -> tuple[np.ndarray, list[list[tuple[str, float]]] | None]:
        if not self._classifier:
            return self.encode_batch(batch), None
        outputs = self._infer(batch, with_logits=True)
        if len(batch) == 0:
            return outputs[FEATURES], []
        labels = softmax_top(outputs[LOGITS], top, self.spec.label_offset)
        return l2_normalise(outputs[FEATURES]), labels

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model": str(self.model_path), "threads": self.threads}
