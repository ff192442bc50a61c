"""What ingestion makes of each upload's bytes, from ONE decode: the check (``decode_image``:
format, caps, damage, EXIF facts, SHA-256), the thumbnail, and what another app derives from
the same picture through the *upload companion* it registers (search: the encoder's model
input, ``search.encoding.model_inputs``). Uploads of a request are prepared a few at a time
on threads (Pillow decodes, resizes and encodes WebP without holding the GIL), in order, so one
large request uses more than one core; storing them stays with the caller.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.core.files.storage import Storage
from PIL import Image

from corpora import thumbnails
from corpora.validation import ImageInfo, decode_image

logger = logging.getLogger(__name__)

# Uploads of one request decoded at the same time (each thread holds one decoded picture).
THREADS = 2

Item = TypeVar("Item")


class UploadCompanion(Protocol):
    """What another app makes from an upload's one decode and keeps beside the stored file
    (search: the encoder's model input). corpora calls it without knowing what it makes."""

    decode_side: int
    """The short side to decode at (at least the thumbnail's, or the companion is not used)."""

    def derive(self, picture: Image.Image) -> Any:
        """From the decoded picture, on the preparation thread."""

    def save(self, storage: Storage, original_name: str, derived: Any) -> None:
        """Once the original is stored under ``original_name``."""

    def discard(self, storage: Storage, original_name: str) -> None:
        """The upload was not kept after all (a duplicate, a failed write)."""


def _no_companion(encoder: str) -> UploadCompanion | None:
    return None


_companion_for: Callable[[str], UploadCompanion | None] = _no_companion


def register_upload_companion(provider: Callable[[str], UploadCompanion | None]) -> None:
    """``provider(encoder name)`` gives the companion of uploads to corpora of that encoder
    (search registers one when Django starts, ``search.apps``)."""
    global _companion_for
    _companion_for = provider


@dataclass(frozen=True)
class UploadPlan:
    """How a corpus's uploads are decoded: at the companion's scale when there is one, else at
    the thumbnail's."""

    decode_side: int
    companion: UploadCompanion | None = None


@dataclass(frozen=True)
class PreparedUpload:
    info: ImageInfo
    thumbnail: bytes
    derived: Any = None  # the companion's, from the same decode (None: no companion)


def plan_for(encoder: str) -> UploadPlan:
    """The plan for uploads to a corpus of ``encoder``. The thumbnail is made from the same
    decode, so that decode must keep at least the thumbnail's side; a companion that decodes
    smaller than that (the colour histogram's model input) is not used."""
    try:
        companion = _companion_for(encoder)
    except Exception:  # a broken model folder must not break uploads: they fall back
        logger.exception("No upload companion for encoder %r", encoder)
        companion = None
    if companion is None or companion.decode_side < thumbnails.SIDE:
        return UploadPlan(decode_side=thumbnails.DECODE_SIDE)
    return UploadPlan(decode_side=companion.decode_side, companion=companion)


def prepare(data: bytes, plan: UploadPlan) -> PreparedUpload:
    """Check and decode ``data`` once; raises what ``decode_image`` raises."""
    decoded = decode_image(data, min_side=plan.decode_side)
    derived = plan.companion.derive(decoded.image) if plan.companion else None
    return PreparedUpload(
        info=decoded.info, thumbnail=thumbnails.render(decoded.image), derived=derived
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
