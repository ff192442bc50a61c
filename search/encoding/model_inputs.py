"""Model inputs made at upload: the encoding job's picture, from the upload check's decode.

Entropy-decoding a camera JPEG costs far more than encoding it (docs/benchmarks.md "Camera
photos"), so each upload is decoded once, by the upload check, at the scale the corpus's
encoder decodes at. From that same picture the web process writes, beside the original, what
the encoder's network sees (the resized ``input_size``² RGB pixels, ~150 KB), tagged with the
encoder's vector fingerprint. The encoding job reads it instead of decoding the original again,
and deletes it once the vector is stored. With copy search on (docs/copies.md) the same file
carries the picture copy search's features are found on (``search.copies.store.copy_picture``:
the same decode box-reduced to a short side of at least 360 px, ~560 KB for a 12-MP photo), so
the job decodes nothing for either.

It is only ever a shortcut: the job falls back to decoding the original whenever the file is
absent, unreadable, of another shape or made for another encoder version (the corpus changed
encoder, a re-encode, a model update), so losing one costs time, never a vector. Files are
written under a temporary name and renamed (a reader never sees half a file), removed with
their image (``corpora.signals``) and, if a crash left one behind, by the orphan sweep.

This is search's: corpora's ingestion decodes each upload once and hands the picture to the
*upload companion* search registers (``corpora.preparation.register_upload_companion``, from
``search.apps``): :class:`ModelInputCompanion` says at which scale to decode, makes the pixels
from the picture on the preparation thread and writes them once the original is stored. An
encoder that cannot be described without loading a model gets none, and its uploads are decoded
at the thumbnail's scale as before. The file goes with its image (``search.signals``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.storage import Storage
from PIL import Image

from corpora.filenames import beside

logger = logging.getLogger(__name__)

SUFFIX = ".input.npz"


@dataclass(frozen=True)
class ModelInputRecipe:
    """How an encoder's input is made from an upload, as ``search`` describes it."""

    fingerprint: str
    """The encoder's vector fingerprint; the job uses a file only when it is still its own."""
    decode_side: int
    """The short side the encoder decodes an image at (``Encoder.decode_side``); the upload
    check decodes at exactly this scale, so the picture is the one the job would decode."""
    picture: Callable[[Image.Image], np.ndarray]
    """The decoded picture to what the network sees: ``(side, side, 3)`` uint8 pixels."""


def input_name(original_name: str) -> str:
    """Beside the original: ``corpora/7/<uuid>.jpg`` → ``corpora/7/<uuid>.input.npz``."""
    return beside(original_name, SUFFIX)


def write(
    storage: Storage,
    original_name: str,
    fingerprint: str,
    pixels: np.ndarray,
    *,
    copy_picture: np.ndarray | None = None,
) -> bool:
    """Write ``pixels`` (``ModelInputRecipe.picture`` of the upload check's decode) as the
    model input of the stored file ``original_name`` for the encoder ``fingerprint``, with
    ``copy_picture`` (``search.copies.store.copy_picture`` of the same decode: what copy
    search's features are found on) when given. Atomic: a temporary file renamed into place.
    False where the storage has no local paths."""
    target = _local_path(storage, input_name(original_name))
    if target is None:
        return False
    temporary = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as handle:
            arrays = {"pixels": pixels, "fingerprint": np.array(fingerprint)}
            if copy_picture is not None:
                arrays["copy_picture"] = copy_picture
            np.savez(handle, **arrays)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return True


def read(
    storage: Storage, original_name: str, *, fingerprint: str, shape: tuple[int, ...]
) -> np.ndarray | None:
    """The model input written for ``original_name`` if it is there, readable, made for
    ``fingerprint`` and of ``shape``; otherwise None (the caller decodes the original)."""
    stored = load(storage, original_name, fingerprint=fingerprint, shape=shape)
    return None if stored is None else stored.pixels


@dataclass(frozen=True)
class StoredInput:
    """What the upload check left beside an original: the model input, and the picture copy
    search's features are found on (None: written without copy search, or before it)."""

    pixels: np.ndarray
    copy_picture: np.ndarray | None = None


def load(
    storage: Storage, original_name: str, *, fingerprint: str, shape: tuple[int, ...]
) -> StoredInput | None:
    """``read``'s model input with the copy picture written beside it, or None (the caller
    decodes the original)."""
    path = _local_path(storage, input_name(original_name))
    if path is None:
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["fingerprint"]) != fingerprint:
                return None
            pixels = stored["pixels"]
            copy_picture = stored["copy_picture"] if "copy_picture" in stored.files else None
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        logger.warning("Ignoring the unreadable model input of %s: %s", original_name, exc)
        return None
    if pixels.shape != tuple(shape) or pixels.dtype != np.uint8:
        return None
    if copy_picture is not None and (copy_picture.ndim != 3 or copy_picture.dtype != np.uint8):
        copy_picture = None
    return StoredInput(pixels, copy_picture)


def delete(storage: Storage, original_name: str) -> None:
    """Remove the model input of ``original_name``, if there is one."""
    path = _local_path(storage, input_name(original_name))
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _local_path(storage: Storage, name: str) -> Path | None:
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return None


@dataclass(frozen=True)
class ModelInputCompanion:
    """What corpora's ingestion does for search with each upload's one decode
    (``corpora.preparation.UploadCompanion``): decode at the encoder's scale, make its model
    input from the picture, write it beside the stored original."""

    recipe: ModelInputRecipe

    @property
    def decode_side(self) -> int:
        return self.recipe.decode_side

    def derive(self, picture: Image.Image) -> StoredInput:
        pixels = self.recipe.picture(picture)
        if not settings.CRIER_COPY_SEARCH:
            return StoredInput(pixels)
        from search.copies.store import copy_picture  # search.copies imports this module

        return StoredInput(pixels, np.asarray(copy_picture(picture)))

    def save(self, storage: Storage, original_name: str, derived: StoredInput) -> None:
        write(
            storage,
            original_name,
            self.recipe.fingerprint,
            derived.pixels,
            copy_picture=derived.copy_picture,
        )

    def discard(self, storage: Storage, original_name: str) -> None:
        delete(storage, original_name)


def companion_for(encoder: str) -> ModelInputCompanion | None:
    """The upload companion for corpora of ``encoder``: None where its recipe is not known
    without loading a model."""
    from search.encoders.registry import model_input_recipe

    recipe = model_input_recipe(encoder)
    return ModelInputCompanion(recipe) if recipe is not None else None
