"""What ingestion makes of each upload's bytes, from ONE decode: the check (``decode_image``:
format, caps, damage, EXIF facts, SHA-256), the thumbnail, and the encoder's model input
(``corpora.model_inputs``). Uploads of a request are prepared a few at a time on threads
(Pillow decodes, resizes and encodes WebP without holding the GIL), in order, so one large
request uses more than one core; storing them stays with the caller.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from corpora import thumbnails
from corpora.encoder_options import model_input_recipe
from corpora.model_inputs import ModelInputRecipe
from corpora.validation import ImageInfo, decode_image

# Uploads of one request decoded at the same time (each thread holds one decoded picture).
THREADS = 2

Item = TypeVar("Item")


@dataclass(frozen=True)
class UploadPlan:
    """How a corpus's uploads are decoded: at the encoder's scale when its model input is made
    at upload (``recipe``), else at the thumbnail's."""

    decode_side: int
    recipe: ModelInputRecipe | None = None


@dataclass(frozen=True)
class PreparedUpload:
    info: ImageInfo
    thumbnail: bytes
    model_pixels: np.ndarray | None  # None: the encoding job decodes the original itself


def plan_for(encoder: str) -> UploadPlan:
    """The plan for uploads to a corpus of ``encoder``. The thumbnail is made from the same
    decode, so that decode must keep at least the thumbnail's side; an encoder that decodes
    smaller than that (the colour histogram) gets no model inputs."""
    recipe = model_input_recipe(encoder)
    if recipe is None or recipe.decode_side < thumbnails.SIDE:
        return UploadPlan(decode_side=thumbnails.DECODE_SIDE)
    return UploadPlan(decode_side=recipe.decode_side, recipe=recipe)


def prepare(data: bytes, plan: UploadPlan) -> PreparedUpload:
    """Check and decode ``data`` once; raises what ``decode_image`` raises."""
    decoded = decode_image(data, min_side=plan.decode_side)
    pixels = plan.recipe.picture(decoded.image) if plan.recipe else None
    return PreparedUpload(
        info=decoded.info, thumbnail=thumbnails.render(decoded.image), model_pixels=pixels
    )


def prepare_in_order(
    items: Iterable[Item], data_of: Callable[[Item], bytes | None], plan: UploadPlan
) -> Iterator[tuple[Item, PreparedUpload | Exception | None]]:
    """Each item with its ``prepare(data_of(item), plan)`` (or the exception it raised; None
    where ``data_of`` gave None), in the items' order, ``THREADS`` at a time. ``items`` and
    ``data_of`` run on the caller's thread (file handles and archives are read there)."""
    window: deque[tuple[Item, Future | None]] = deque()
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="ingest") as pool:
        for item in items:
            data = data_of(item)
            window.append((item, None if data is None else pool.submit(prepare, data, plan)))
            if len(window) > THREADS:
                yield _finished(*window.popleft())
        while window:
            yield _finished(*window.popleft())


def _finished(item: Item, future: Future | None) -> tuple[Item, PreparedUpload | Exception | None]:
    if future is None:
        return item, None
    try:
        return item, future.result()
    except Exception as exc:
        return item, exc
