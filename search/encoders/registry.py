"""Encoders by name, built once per process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from django.conf import settings

from corpora.model_inputs import ModelInputRecipe
from search.encoding.preprocessing import model_input_recipe as recipe_from_facts

from .base import Encoder, EncoderError
from .efficientnet_lite import build as lite_build
from .flip import SUFFIX as FLIP_SUFFIX
from .flip import FlipAveragedEncoder, flip_fingerprint
from .histogram import HistogramEncoder
from .litert import LiteRTEncoder, convert_and_verify, read_verification, usable_model
from .tfhub import (
    HubSpec,
    TFHubEncoder,
    derive_fingerprint,
    is_url,
    spec_for_directory,
    vector_fingerprint,
)

logger = logging.getLogger(__name__)

_V2 = "https://tfhub.dev/google/imagenet/efficientnet_v2_imagenet1k_{}/feature_vector/2"
# TF Hub EfficientNetV2 feature vectors: the whole image at the training size, inputs in [0, 1].
HUB_MODELS: dict[str, HubSpec] = {
    f"efficientnet-v2-{variant}": HubSpec(handle=_V2.format(variant), input_size=size)
    for variant, size in {
        "b0": 224,
        "b1": 240,
        "b2": 260,
        "b3": 300,
        "s": 384,
        "m": 480,
        "l": 480,
    }.items()
}

# What a user may pick for a new corpus: every one of these works offline. How fast and how
# good each is: docs/encoders.md and docs/benchmarks.md.
SELECTABLE = {
    "efficientnet-lite0": "EfficientNet-Lite0 (fastest)",
    "efficientnet-lite1": "EfficientNet-Lite1 (slower)",
    "efficientnet-lite2": "EfficientNet-Lite2 (slowest)",
    "histogram": "Colour histogram (colours only)",
}

_cache: dict[str, Encoder] = {}
_lock = threading.RLock()


def _litert_model(directory: Path, name: str | None) -> LiteRTEncoder | None:
    """The LiteRT encoder of a SavedModel directory whose verified .tflite is current."""
    spec = spec_for_directory(directory)
    record = read_verification(directory)
    if record is None:
        return None
    if spec.input_size is None:
        spec = replace(spec, input_size=record.input_size)
    found = usable_model(directory, derive_fingerprint(spec))
    return LiteRTEncoder(spec, found[0], found[1], name=name) if found else None


def _from_directory(directory: Path, name: str | None = None, convert: bool = False) -> Encoder:
    """LiteRT when ``CRIER_RUNTIME`` is litert and a verified .tflite matches the SavedModel
    (with ``convert``, make one first if there is none); TensorFlow otherwise."""
    if settings.CRIER_RUNTIME == "litert":
        encoder = _litert_model(directory, name)
        if encoder is not None:
            return encoder
    tf_encoder = TFHubEncoder(spec_for_directory(directory), name=name)
    if settings.CRIER_RUNTIME == "litert" and convert:
        verification = convert_and_verify(tf_encoder)
        if verification.passed:
            return _litert_model(directory, name) or tf_encoder
    return tf_encoder


def _lite(name: str) -> Encoder:
    # Cheap when already built: it only compares the manifest's fingerprint.
    directory = lite_build.build(name, Path(settings.CRIER_MODEL_DIR))
    # Our own builds convert on first use, like the SavedModel build itself; a conversion that
    # failed for these weights is not retried here (``encoder prepare`` retries it).
    record = read_verification(directory)
    tried = record is not None and record.fingerprint == spec_for_directory(directory).fingerprint
    return _from_directory(directory, name, convert=not tried)


def _factories() -> dict[str, Callable[[], Encoder]]:
    factories: dict[str, Callable[[], Encoder]] = {
        "histogram": HistogramEncoder,
    }
    for name in lite_build.VARIANTS:
        factories[name] = lambda name=name: _lite(name)
    for name, spec in HUB_MODELS.items():
        factories[name] = lambda name=name, spec=spec: TFHubEncoder(spec, name=name)
    return factories


def encoder_choices() -> list[tuple[str, str]]:
    """(name, description) of the encoders users may choose, the site's default first."""
    default = settings.CRIER_ENCODER
    label = SELECTABLE.get(default, f"{default}: this site's default")
    return [(default, label), *((n, d) for n, d in SELECTABLE.items() if n != default)]


def encoder_names() -> list[str]:
    return list(_factories())


def is_model_handle(name: str) -> bool:
    """Whether ``name`` points at a model rather than naming one: a TF Hub URL or a local
    SavedModel directory."""
    return name.startswith(("https://", "http://")) or Path(name).is_dir()


def _create(name: str) -> Encoder:
    factories = _factories()
    if name in factories:
        return factories[name]()
    if name.endswith(FLIP_SUFFIX) and len(name) > len(FLIP_SUFFIX):
        return FlipAveragedEncoder(get_encoder(name.removesuffix(FLIP_SUFFIX)))
    if is_url(name):
        return TFHubEncoder(HubSpec(handle=name))
    if Path(name).is_dir():
        return _from_directory(Path(name).resolve())
    raise EncoderError(
        f"Unknown encoder {name!r}. Known encoders: {', '.join(factories)}; "
        "or give a local SavedModel directory or a TF Hub URL."
    )


def _key(name: str) -> str:
    if name.endswith(FLIP_SUFFIX):
        return _key(name.removesuffix(FLIP_SUFFIX)) + FLIP_SUFFIX
    if name in _factories() or is_url(name):
        return f"{settings.CRIER_RUNTIME}:{name}"
    return f"{settings.CRIER_RUNTIME}:{Path(name).resolve()}"


def get_encoder(name: str | None = None) -> Encoder:
    """The encoder called ``name`` (default ``settings.CRIER_ENCODER``), cached per process.
    Also accepts a local SavedModel directory or an http(s) TF Hub handle."""
    name = name or settings.CRIER_ENCODER
    key = _key(name)
    encoder = _cache.get(key)
    if encoder is None:
        with _lock:
            encoder = _cache.get(key)
            if encoder is None:
                encoder = _cache[key] = _create(name)
    return encoder


def prepare_encoder(name: str | None = None) -> Encoder:
    """Build or fetch whatever ``name`` needs, then load it (what ``encoder prepare`` runs).
    With the LiteRT runtime, a local SavedModel that still runs on TensorFlow is converted to a
    verified .tflite (again, if an earlier try failed) and LiteRT is used when it passes."""
    encoder = get_encoder(name)
    base = name or settings.CRIER_ENCODER
    flip = base.endswith(FLIP_SUFFIX)
    inner = encoder.base if flip else encoder
    if settings.CRIER_RUNTIME != "litert" or not isinstance(inner, TFHubEncoder):
        return encoder
    if is_url(inner.source):
        return encoder  # TF Hub handles stay on TensorFlow: there is no directory to write to
    if not convert_and_verify(inner).passed:
        return encoder
    with _lock:
        for key in (_key(base), _key(base.removesuffix(FLIP_SUFFIX))):
            _cache.pop(key, None)
    return get_encoder(name)


def is_prepared(name: str | None = None) -> bool:
    """Whether ``name`` (default ``settings.CRIER_ENCODER``) can be loaded without building or
    downloading anything, checked without loading TensorFlow (for the readiness probe)."""
    name = (name or settings.CRIER_ENCODER).removesuffix(FLIP_SUFFIX)
    if name == "histogram":
        return True
    if name in lite_build.VARIANTS:
        variant = lite_build.VARIANTS[name]
        directory = Path(settings.CRIER_MODEL_DIR) / name
        return lite_build.is_built(directory, lite_build.manifest_for(variant))
    if is_url(name) or name in HUB_MODELS:
        return True  # fetched and cached by TF Hub on first use: nothing to check ahead
    return (Path(name) / "saved_model.pb").is_file()


def model_input_recipe(name: str) -> ModelInputRecipe | None:
    """How an upload becomes the input of encoder ``name`` (``corpora.model_inputs``), known
    without loading a model: from an encoder this process already holds, the histogram, or a
    prepared EfficientNet-Lite build's manifest (and their ``+flip``). None for anything else
    (TF Hub handles, folders without a manifest size): their uploads are simply decoded again
    by the encoding job. A recipe whose facts disagree with the encoder the job loads carries
    another fingerprint, so the job ignores its files."""
    encoder = _cache.get(_key(name))
    if encoder is not None:
        return encoder.model_input_recipe()
    if name.endswith(FLIP_SUFFIX) and len(name) > len(FLIP_SUFFIX):
        base = model_input_recipe(name.removesuffix(FLIP_SUFFIX))
        return replace(base, fingerprint=flip_fingerprint(base.fingerprint)) if base else None
    if name == "histogram":
        return get_encoder(name).model_input_recipe()
    if name in lite_build.VARIANTS and is_prepared(name):
        spec = spec_for_directory(Path(settings.CRIER_MODEL_DIR) / name)
        if spec.input_size:
            return recipe_from_facts(vector_fingerprint(spec), spec.input_size, spec.crop_fraction)
    return None


def clear_cache() -> None:
    with _lock:
        _cache.clear()
