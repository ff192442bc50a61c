"""A corpus as one ZIP archive, streamed: every stored image plus a manifest of its records.

Layout: ``images/<record id>/<original filename>`` (the id keeps equal names apart) and
``manifest.json`` (the corpus, and per image its file, name, SHA-256, size, status, tags, caption,
metadata, predicted labels and EXIF facts).
``manage.py import_images corpus.zip`` reads the archive back: same files, same names.
The archive is written as it is sent, so memory stays flat whatever the corpus's size; image
files are stored uncompressed (they are compressed already).
"""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from corpora.filenames import base_name
from corpora.models import Corpus, ImageRecord
from corpora.selectors import attach_labels
from corpora.validation import name_with_extension

MANIFEST_NAME = "manifest.json"
COPY_CHUNK = 1 << 20


class _Sink(io.RawIOBase):
    """A write-only stream whose bytes are taken out as they come (zipfile writes to it)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def archive_filename(corpus: Corpus) -> str:
    safe = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in corpus.name).strip("-")
    return f"crier-{corpus.pk}-{safe or 'corpus'}.zip"


def member_name(record: ImageRecord) -> str:
    """``images/<id>/<name>``: the name without folders or control characters, never ``..``,
    ending in an extension of the image's real format (so ``import_images`` reads it back)."""
    name = base_name(record.original_filename)
    if name in ("", ".", ".."):
        name = f"image-{record.pk}"
    return f"images/{record.pk}/{name_with_extension(name, record.format)}"


def stream_corpus_zip(corpus: Corpus) -> Iterator[bytes]:
    """The archive's bytes, in pieces. Images whose file is missing on disk are listed in the
    manifest under ``missing`` instead of failing the whole download."""
    sink = _Sink()
    images: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for record in _with_labels(corpus.images.order_by("pk").iterator(chunk_size=500)):
            entry = _describe(record)
            try:
                handle = record.file.open("rb")
            except FileNotFoundError:
                missing.append(entry)
                continue
            with handle, archive.open(member_name(record), "w") as member:
                while chunk := handle.read(COPY_CHUNK):
                    member.write(chunk)
                    yield sink.take()
            images.append({"file": member_name(record), **entry})
            yield sink.take()
        manifest = {
            "corpus": {
                "id": corpus.pk,
                "name": corpus.name,
                "description": corpus.description,
                "visibility": corpus.visibility,
                "encoder": corpus.encoder,
                "created_at": corpus.created_at.isoformat(),
            },
            "exported_at": timezone.now().isoformat(),
            "images": images,
            "missing": missing,
        }
        archive.writestr(MANIFEST_NAME, json.dumps(manifest, indent=2, ensure_ascii=False))
    yield sink.take()


def _with_labels(records: Iterator[ImageRecord], chunk: int = 500) -> Iterator[ImageRecord]:
    """``records`` with their predicted labels, loaded a chunk at a time."""
    while batch := list(itertools.islice(records, chunk)):
        yield from attach_labels(batch)


def _describe(record: ImageRecord) -> dict[str, Any]:
    return {
        "id": record.pk,
        "original_filename": record.original_filename,
        "sha256": record.sha256,
        "width": record.width,
        "height": record.height,
        "format": record.format,
        "byte_size": record.byte_size,
        "status": record.status,
        "error": record.error,
        "tags": record.tags,
        "caption": record.caption,
        "metadata": record.metadata,
        "labels": record.labels,
        "taken_at": record.taken_at.isoformat() if record.taken_at else None,
        "camera_make": record.camera_make,
        "camera_model": record.camera_model,
        "latitude": record.latitude,
        "longitude": record.longitude,
        "created_at": record.created_at.isoformat(),
    }
