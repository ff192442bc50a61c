"""Thumbnails: a small WebP beside each stored original, made at ingest from the picture the
upload check already decoded, so grids never load the originals (a 12-MP photo is 3-6 MB, its
thumbnail ~15 KB). Images stored before thumbnails existed get theirs from ``backfill`` (run by
a task that the migration adding them schedules) or, at the latest, when first asked for."""

from __future__ import annotations

import io
import logging
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image

from corpora.filenames import beside
from corpora.models import THUMBNAIL_SIDE, ImageRecord
from corpora.validation import decode_image
from crier_site.errors import CrierError

logger = logging.getLogger(__name__)

SIDE = THUMBNAIL_SIDE  # long side, in pixels
FORMAT, CONTENT_TYPE, SUFFIX = "WEBP", "image/webp", ".thumb.webp"
QUALITY = 80
WEBP_METHOD = 2  # of 0 (fastest) to 6: 4 costs ~3 ms more per photo for files ~3 % smaller
REDUCING_GAP = 1.5
# A thumbnail is made from a picture decoded to at least twice its side (JPEG DCT scaling).
DECODE_SIDE = 2 * SIDE
# Part of every thumbnail's ETag: a new rendering recipe invalidates cached copies.
VERSION = 1


def render(picture: Image.Image) -> bytes:
    """WebP bytes of ``picture`` (RGB, upright) shrunk to fit ``SIDE`` (never enlarged)."""
    width, height = picture.size
    scale = min(1.0, SIDE / max(width, height, 1))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # A box reduce by a whole factor down to 1.5x the size, then Lanczos: a third of the cost
    # of Lanczos from the decoded size, and the same picture to the eye (PSNR >= 45 dB on
    # camera photos, docs/benchmarks.md).
    small = picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    buffer = io.BytesIO()
    small.save(buffer, format=FORMAT, quality=QUALITY, method=WEBP_METHOD)
    return buffer.getvalue()


def thumbnail_name(original_name: str) -> str:
    """Beside the original: ``corpora/7/<uuid>.jpg`` → ``corpora/7/<uuid>.thumb.webp``."""
    return beside(original_name, SUFFIX)


def attach(record: ImageRecord, rendered: bytes) -> None:
    """Write ``record``'s thumbnail (``render``'s bytes) next to its file (the row is not
    saved)."""
    record.thumbnail.save(
        PurePosixPath(thumbnail_name(record.file.name)).name, ContentFile(rendered), save=False
    )


def ensure(record: ImageRecord) -> bool:
    """Give ``record`` a thumbnail if it has none (decoding its stored file once); also sets
    its width and height as displayed (EXIF-oriented). False when the file cannot be read."""
    if record.thumbnail:
        return True
    try:
        with record.file.open("rb") as handle:
            decoded = decode_image(handle.read(), min_side=DECODE_SIDE)
    except (OSError, CrierError) as exc:
        logger.warning("No thumbnail for image %s: %s", record.pk, exc)
        return False
    attach(record, render(decoded.image))
    record.width, record.height = decoded.info.width, decoded.info.height
    with transaction.atomic():
        updated = ImageRecord.all_objects.filter(pk=record.pk, thumbnail="").update(
            thumbnail=record.thumbnail.name, width=record.width, height=record.height
        )
    if not updated:  # deleted meanwhile, or another process made one first
        record.thumbnail.storage.delete(record.thumbnail.name)
        record.refresh_from_db(fields=["thumbnail"])
    return True


def backfill(*, batch: int = 200) -> int:
    """Make the missing thumbnails of every image; returns how many were made."""
    made = 0
    last_id = 0
    while True:
        records = list(
            ImageRecord.all_objects.filter(thumbnail="", pk__gt=last_id).order_by("pk")[:batch]
        )
        if not records:
            return made
        for record in records:
            made += ensure(record)
        last_id = records[-1].pk
