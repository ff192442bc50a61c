"""Small helpers that make real images and rows for tests."""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from django.core.files.base import ContentFile
from PIL import Image

from corpora import services as corpus_services
from corpora.examples import sample_photo_path
from corpora.models import Corpus, ImageRecord, ImageStatus
from search.encoders.histogram import HistogramEncoder
from search.encoders.labels import label_text
from search.indices import build
from search.models import CorpusIndex, ImageVector, VectorKind, VectorStatus


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


def make_record(
    corpus: Corpus, data: bytes | None = None, name: str = "a.png", **fields
) -> ImageRecord:
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


_described_seeds = itertools.count(10_000)


def described_record(
    corpus: Corpus,
    name: str,
    *,
    tags: Sequence[str] = (),
    labels: Sequence[tuple[str, list[str], float]] = (),
    caption: str = "",
) -> ImageRecord:
    """A record with tags, a caption and predicted labels ((name, synonyms, probability), best
    first), as ingestion and encoding would store them."""
    from corpora.metadata import tag_text

    entries = [{"label": a, "synonyms": s, "probability": p} for a, s, p in labels]
    record = make_record(
        corpus,
        image_bytes(seed=next(_described_seeds)),
        name=name,
        tags=list(tags),
        tag_text=tag_text(tags),
        caption=caption,
    )
    if entries:
        store_labels(record, entries)
    return record


def store_labels(record: ImageRecord, entries: list[dict], encoder: str | None = None) -> None:
    """Predicted labels on ``record``, as the encoding job stores them with its vector."""
    ImageVector.objects.update_or_create(
        image=record,
        encoder=encoder or record.corpus.encoder,
        kind=VectorKind.IMAGE,
        defaults={
            "corpus_id": record.corpus_id,
            "fingerprint": "test-labels",
            "status": VectorStatus.ENCODED,
            "labels": entries,
            "label_text": label_text(entries),
        },
    )


def unit_vectors(n: int, seed: int = 0, dim: int = 16) -> np.ndarray:
    """``n`` random L2-normalised float32 vectors."""
    x = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def add_vector_records(
    corpus: Corpus,
    vectors: np.ndarray | None,
    *,
    n: int | None = None,
    status: str = ImageStatus.ENCODED,
    fingerprint: str = "fp-1",
) -> list[ImageRecord]:
    """Rows with these stored vectors (or ``n`` rows without one) and no real file behind them;
    ``status`` is the images' (corpora's) and, when encoded or failed, their vectors'."""
    count = len(vectors) if vectors is not None else n
    start = ImageRecord.objects.count()
    records = ImageRecord.objects.bulk_create(
        ImageRecord(
            corpus=corpus,
            file=f"corpora/{corpus.pk}/{start + i}.png",
            original_filename=f"{start + i}.png",
            sha256=f"{start + i:064x}",
            width=1,
            height=1,
            format="PNG",
            byte_size=1,
            status=status,
        )
        for i in range(count)
    )
    if vectors is not None and status in (ImageStatus.ENCODED, ImageStatus.FAILED):
        store_vectors(corpus, records, vectors, fingerprint=fingerprint, status=status)
    return records


def store_vectors(
    corpus: Corpus,
    records: Sequence[ImageRecord],
    vectors: np.ndarray,
    *,
    fingerprint: str = "fp-1",
    status: str = VectorStatus.ENCODED,
    encoder: str | None = None,
) -> list[ImageVector]:
    """Stored vectors of ``records`` (one row of ``vectors`` each), of the corpus's encoder."""
    return ImageVector.objects.bulk_create(
        ImageVector(
            image_id=record.pk,
            corpus_id=corpus.pk,
            encoder=encoder or corpus.encoder,
            kind=VectorKind.IMAGE,
            fingerprint=fingerprint,
            vector=vector.astype(np.float32).tobytes() if status == VectorStatus.ENCODED else None,
            status=status,
        )
        for record, vector in zip(records, vectors, strict=True)
    )


def stored_vector(record: ImageRecord | int, encoder: str | None = None) -> ImageVector | None:
    """The whole-image vector row of ``record`` (of ``encoder``, or its only one)."""
    rows = ImageVector.objects.filter(image=record, kind=VectorKind.IMAGE)
    if encoder is not None:
        rows = rows.filter(encoder=encoder)
    return rows.order_by("-updated_at").first()


def indexed_vector_corpus(owner, vectors: np.ndarray, **fields) -> tuple[Corpus, list]:
    """A corpus whose records hold ``vectors``, with its index built."""
    corpus = make_corpus(owner, **fields)
    records = add_vector_records(corpus, vectors)
    build.rebuild_index(corpus=corpus)
    corpus.refresh_from_db()
    return corpus, records


def searchable_corpus(owner, name: str, count: int = 3, **fields) -> Corpus:
    """A histogram corpus of ``count`` random images, encoded and indexed."""
    from search.encoding import job

    corpus = make_corpus(owner, name, **fields)
    for seed in range(count):
        make_record(corpus, data=image_bytes(seed=seed), name=f"{seed}.png")
    job.encode_corpus(corpus_id=corpus.pk)
    corpus.refresh_from_db()
    assert index_of(corpus).version
    return corpus


def ingested_corpus(
    owner, name: str, files: dict[str, bytes], callbacks, **fields
) -> tuple[Corpus, dict[str, int]]:
    """A corpus made of ``files`` (name → bytes) through the ingestion service, encoded and
    indexed by the task its commit enqueues (``callbacks``: django_capture_on_commit_callbacks)
    and the ids of its images by file name."""
    corpus = make_corpus(owner, name, **fields)
    with callbacks(execute=True):
        report = corpus_services.ingest_files(
            corpus=corpus, files=[(n, io.BytesIO(d)) for n, d in files.items()]
        )
    corpus.refresh_from_db()
    return corpus, {record.original_filename: record.pk for record in report.accepted}


def truncated_jpeg() -> bytes:
    full = image_bytes(fmt="JPEG", size=(320, 240), seed=7)
    return full[: len(full) // 2]


def decompression_bomb_png(side: int = 30_000) -> bytes:
    """A real, valid 1-bit PNG of ``side``² pixels that compresses to a few hundred KB."""
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\x00" * ((side + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def photo_bytes(name: str, fmt: str = "JPEG", size: tuple[int, int] | None = None) -> bytes:
    """One of scikit-image's sample photos, re-encoded (optionally resized)."""
    with Image.open(sample_photo_path(name)) as image:
        image = image.convert("RGB")
        if size:
            image = image.resize(size)
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
    return buffer.getvalue()


def ingest(corpus: Corpus, files: dict[str, bytes]) -> list[ImageRecord]:
    """Upload ``{name: bytes}`` to ``corpus`` without encoding; every file must be accepted."""
    report = corpus_services.ingest_files(
        corpus=corpus,
        files=[(name, io.BytesIO(data)) for name, data in files.items()],
        enqueue=False,
    )
    assert not report.rejected, report.rejected
    return report.accepted


def model_input_path(record: ImageRecord) -> Path:
    """Where the upload check leaves ``record``'s model input (search.encoding.model_inputs)."""
    from search.encoding.model_inputs import input_name

    return Path(record.file.storage.path(input_name(record.file.name)))


class WideHistogramEncoder(HistogramEncoder):
    """The colour histogram at a 160-px input, so it decodes at 320 px: enough for a thumbnail
    from the same decode, so uploads to its corpora get model inputs (search.encoding.model_inputs)
    the way the EfficientNet-Lite encoders' do, without loading a network."""

    name = "wide-histogram"
    selectable = False
    input_size = 160
    fingerprint_parts = {"kind": "test-wide-histogram", "size": 160}


class CountingEncoder:
    """Wraps a real encoder, counts the rows it encodes, and can fail after ``fail_after`` rows."""

    def __init__(self, inner, *, batch_size: int = 2, fail_after: int | None = None) -> None:
        self.inner = inner
        self.batch_size = batch_size
        self.fail_after = fail_after
        self.rows = 0
        self.name, self.dim, self.fingerprint = inner.name, inner.dim, inner.fingerprint
        self.decode_side, self.input_size = inner.decode_side, inner.input_size
        self.takes_model_pixels = inner.takes_model_pixels

    def preprocess(self, image):
        return self.inner.preprocess(image)

    def input_from_pixels(self, pixels):
        return self.inner.input_from_pixels(pixels)

    def encode_batch(self, batch):
        if self.fail_after is not None and self.rows + len(batch) > self.fail_after:
            raise RuntimeError("simulated crash")
        self.rows += len(batch)
        return self.inner.encode_batch(batch)

    def encode_and_classify_batch(self, batch, top=5):
        return self.encode_batch(batch), None

    def encode(self, images):
        self.rows += len(images)
        return self.inner.encode(images)


def exif_jpeg(
    *,
    make: str | None = "Canon",
    model: str | None = "Canon EOS 5D",
    taken: str | None = "2024:07:14 15:30:00",
    offset: str | None = "+02:00",
    gps: tuple | None = ("N", (52.0, 31.0, 12.0), "W", (13.0, 24.0, 36.0)),
    seed: int = 5,
    size: tuple[int, int] = (64, 48),
) -> bytes:
    """A JPEG whose EXIF says when, with what and where it was taken (any part may be None)."""
    from PIL import ExifTags

    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")
    exif = Image.Exif()
    if make is not None:
        exif[0x010F] = make
    if model is not None:
        exif[0x0110] = model
    details = exif.get_ifd(ExifTags.IFD.Exif)
    if taken is not None:
        details[0x9003] = taken
    if offset is not None:
        details[0x9011] = offset
    if gps is not None:
        position = exif.get_ifd(ExifTags.IFD.GPSInfo)
        position[1], position[2], position[3], position[4] = gps
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def with_broken_exif(jpeg: bytes) -> bytes:
    """``jpeg`` with an APP1 Exif segment of garbage inserted after its SOI marker."""
    import struct

    payload = b"Exif\x00\x00II*\x00\x08\x00\x00\x00" + b"\xff\x13\x37" * 40
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def save_tiny_savedmodel(directory, seed: int = 0, size: int = 64):
    """A foreign 8-d feature SavedModel (no manifest, no classifier): channel means times a
    random 3×8 matrix, traced for ``size``×``size`` inputs. Different seeds, different weights."""
    import tensorflow as tf

    class TinyModel(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            rng = np.random.default_rng(seed)
            self.kernel = tf.Variable(rng.normal(size=(3, 8)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
        def __call__(self, images):
            return tf.matmul(tf.reduce_mean(images, axis=[1, 2]), self.kernel)

    tf.saved_model.save(TinyModel(), str(directory))
    return directory


def index_of(corpus: Corpus) -> CorpusIndex:
    """The corpus's index row (version, count, staleness, lease) as stored now."""
    return CorpusIndex.of(corpus.pk)
