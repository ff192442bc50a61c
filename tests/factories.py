"""Small helpers that make real images and rows for tests."""

from __future__ import annotations

import io

import numpy as np
from django.core.files.base import ContentFile
from PIL import Image

from corpora.models import Corpus, ImageRecord


def image_bytes(
    color: tuple[int, int, int] = (200, 30, 30),
    size: tuple[int, int] = (64, 48),
    fmt: str = "PNG",
    seed: int | None = None,
) -> bytes:
    """A real encoded image. With ``seed`` it is random noise (distinct bytes per seed)."""
    if seed is not None:
        rng = np.random.default_rng(seed)
        array = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        image = Image.fromarray(array, "RGB")
    else:
        image = Image.new("RGB", size, color)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def make_corpus(owner, name: str = "holiday", **fields) -> Corpus:
    fields.setdefault("encoder", "histogram")
    return Corpus.objects.create(owner=owner, name=name, **fields)


def make_record(corpus: Corpus, data: bytes | None = None, name: str = "a.png", **fields) -> ImageRecord:
    import hashlib

    data = data if data is not None else image_bytes(seed=len(name) + corpus.pk)
    record = ImageRecord(
        corpus=corpus,
        original_filename=name,
        sha256=hashlib.sha256(data).hexdigest(),
        width=fields.pop("width", 64),
        height=fields.pop("height", 48),
        format=fields.pop("format", "PNG"),
        byte_size=len(data),
        **fields,
    )
    record.file.save(name, ContentFile(data), save=False)
    record.save()
    return record
