"""A local SavedModel directory as an encoder: LiteRT when ``CRIER_RUNTIME`` is litert and a
verified .tflite matches the SavedModel, TensorFlow otherwise (docs/encoders.md)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from django.conf import settings

from .base import Encoder
from .litert import LiteRTEncoder, convert_and_verify, read_verification, usable_model
from .tfhub import TFHubEncoder, derive_fingerprint, spec_for_directory


def litert_model(directory: Path, name: str | None) -> LiteRTEncoder | None:
    """The LiteRT encoder of a SavedModel directory whose verified .tflite is current."""
    spec = spec_for_directory(directory)
    record = read_verification(directory)
    if record is None:
        return None
    if spec.input_size is None:
        spec = replace(spec, input_size=record.input_size)
    found = usable_model(directory, derive_fingerprint(spec))
    return LiteRTEncoder(spec, found[0], found[1], name=name) if found else None


def from_directory(directory: Path, name: str | None = None, convert: bool = False) -> Encoder:
    """LiteRT when ``CRIER_RUNTIME`` is litert and a verified .tflite matches the SavedModel
    (with ``convert``, make one first if there is none); TensorFlow otherwise."""
    if settings.CRIER_RUNTIME == "litert":
        encoder = litert_model(directory, name)
        if encoder is not None:
            return encoder
    tf_encoder = TFHubEncoder(spec_for_directory(directory), name=name)
    if settings.CRIER_RUNTIME == "litert" and convert:
        verification = convert_and_verify(tf_encoder)
        if verification.passed:
            return litert_model(directory, name) or tf_encoder
    return tf_encoder


def is_saved_model(directory: str | Path) -> bool:
    """Whether ``directory`` holds a SavedModel (checked without loading TensorFlow)."""
    return (Path(directory) / "saved_model.pb").is_file()
