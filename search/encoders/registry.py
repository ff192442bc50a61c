"""Encoders by name, built once per process.

``ENCODERS`` lists the encoder classes; each says its own name, label, whether users may pick
it, how to create it, whether it is prepared and its model-input recipe (``base.EncoderEntry``).
Besides those names, a name may be ``<name>+flip`` (flip-averaged vectors), a TF Hub URL or a
local SavedModel directory. Adding an encoder: docs/encoders.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings

from search.encoding.model_inputs import ModelInputRecipe

from .base import Encoder, EncoderEntry, EncoderError
from .flip import SUFFIX as FLIP_SUFFIX
from .flip import FlipAveragedEncoder, flip_fingerprint
from .histogram import HistogramEncoder
from .lite import EfficientNetLite0, EfficientNetLite1, EfficientNetLite2
from .litert import convert_and_verify
from .savedmodel import from_directory, is_saved_model
from .tfhub import HUB_MODELS, HubSpec, TFHubEncoder, is_url

logger = logging.getLogger(__name__)

# Every encoder known by name, in the order the choice lists show the selectable ones. How fast
# and how good each is: docs/encoders.md and docs/benchmarks.md.
ENCODERS: tuple[type[EncoderEntry], ...] = (
    EfficientNetLite0,
    EfficientNetLite1,
    EfficientNetLite2,
    HistogramEncoder,
    *HUB_MODELS,
)

_cache: dict[str, Encoder] = {}
_lock = threading.RLock()


def registered() -> dict[str, type[EncoderEntry]]:
    """Name → encoder class, for every class in ``ENCODERS``."""
    return {entry.name: entry for entry in ENCODERS}


def encoder_choices() -> list[tuple[str, str]]:
    """(name, label) of the encoders users may choose, the site's default first."""
    default = settings.CRIER_ENCODER
    selectable = {name: entry.label for name, entry in registered().items() if entry.selectable}
    label = selectable.get(default, f"{default}: this site's default")
    return [(default, label), *((n, d) for n, d in selectable.items() if n != default)]


def encoder_names() -> list[str]:
    return list(registered())


def is_model_handle(name: str) -> bool:
    """Whether ``name`` points at a model rather than naming one: a TF Hub URL or a local
    SavedModel directory."""
    return name.startswith(("https://", "http://")) or Path(name).is_dir()


@dataclass(frozen=True)
class _Named:
    """What a name denotes: the cache key, how to create it, and the class if it has one."""

    key: str
    create: Callable[[], Encoder]
    entry: type[EncoderEntry] | None = None
    flip_of: str | None = None  # for "<name>+flip": the wrapped encoder's name


def _resolve(name: str) -> _Named:
    runtime = settings.CRIER_RUNTIME
    if name.endswith(FLIP_SUFFIX) and len(name) > len(FLIP_SUFFIX):
        base = name.removesuffix(FLIP_SUFFIX)
        return _Named(
            key=_resolve(base).key + FLIP_SUFFIX,
            create=lambda: FlipAveragedEncoder(get_encoder(base)),
            flip_of=base,
        )
    entry = registered().get(name)
    if entry is not None:
        return _Named(key=f"{runtime}:{name}", create=entry.create, entry=entry)
    if is_url(name):
        return _Named(key=f"{runtime}:{name}", create=lambda: TFHubEncoder(HubSpec(handle=name)))
    if Path(name).is_dir():
        directory = Path(name).resolve()
        return _Named(key=f"{runtime}:{directory}", create=lambda: from_directory(directory))
    raise EncoderError(
        f"Unknown encoder {name!r}. Known encoders: {', '.join(registered())}; "
        "or give a local SavedModel directory or a TF Hub URL."
    )


def build_encoder(name: str) -> Encoder:
    """A new encoder called ``name`` (``get_encoder`` keeps one per process)."""
    return _resolve(name).create()


def get_encoder(name: str | None = None) -> Encoder:
    """The encoder called ``name`` (default ``settings.CRIER_ENCODER``), cached per process.
    Also accepts a local SavedModel directory or an http(s) TF Hub handle."""
    name = name or settings.CRIER_ENCODER
    key = _resolve(name).key
    encoder = _cache.get(key)
    if encoder is None:
        with _lock:
            encoder = _cache.get(key)
            if encoder is None:
                encoder = _cache[key] = build_encoder(name)
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
        for key in (_resolve(base).key, _resolve(base.removesuffix(FLIP_SUFFIX)).key):
            _cache.pop(key, None)
    return get_encoder(name)


def is_prepared(name: str | None = None) -> bool:
    """Whether ``name`` (default ``settings.CRIER_ENCODER``) can be loaded without building or
    downloading anything, checked without loading TensorFlow (for the readiness probe)."""
    name = (name or settings.CRIER_ENCODER).removesuffix(FLIP_SUFFIX)
    entry = registered().get(name)
    if entry is not None:
        return entry.is_prepared()
    if is_url(name):
        return True  # fetched and cached by TF Hub on first use: nothing to check ahead
    return is_saved_model(name)


def model_input_recipe(name: str) -> ModelInputRecipe | None:
    """How an upload becomes the input of encoder ``name`` (``search.encoding.model_inputs``), known
    without loading a model: from an encoder this process already holds, else from its class
    (``prepared_input_recipe``), and for ``+flip`` from the wrapped one's. None for anything
    else (TF Hub handles, folders): their uploads are simply decoded again by the encoding job.
    A recipe whose facts disagree with the encoder the job loads carries another fingerprint,
    so the job ignores its files."""
    try:
        named = _resolve(name)
    except EncoderError:
        return None
    encoder = _cache.get(named.key)
    if encoder is not None:
        return encoder.model_input_recipe()
    if named.flip_of is not None:
        base = model_input_recipe(named.flip_of)
        return replace(base, fingerprint=flip_fingerprint(base.fingerprint)) if base else None
    return named.entry.prepared_input_recipe() if named.entry is not None else None


def clear_cache() -> None:
    with _lock:
        _cache.clear()
