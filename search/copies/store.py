"""Each image's copy-search data (its picture boxes and local features, ``search.models``'s
``CopyFeatures``): made when the image is encoded, read when a search verifies its hits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from corpora.models import Corpus, ImageRecord
from search.copies import local, parts
from search.copies import words as visual_words
from search.encoding.preprocessing import open_image

logger = logging.getLogger(__name__)

# Rows made with another feature format or box detector are ignored, and made again.
VERSION = local.FORMAT * 100 + parts.VERSION
# Features and boxes are found on a stored picture reduced to no less than this short side
# (``copy_picture``: a camera JPEG's 1/4-scale decode halved, 500×375; features are found at up
# to local.SIDE on the long side). A picture decoded for nothing else is decoded at this side.
DECODE_SIDE = 360
BATCH = 16
THREADS = 2
WORDS_BATCH = 200  # rows given words in one update (~30 KiB of features read each)


def copy_picture(picture: Image.Image) -> Image.Image:
    """What copy search describes of a decoded picture: ``picture`` box-reduced by the largest
    whole factor that keeps its short side at least ``DECODE_SIDE`` (the upload check's and the
    encoding job's decodes at the encoder's scale give the same one)."""
    factor = min(picture.size) // DECODE_SIDE
    return picture.reduce(factor) if factor > 1 else picture


def describe(picture: Image.Image) -> tuple[list[parts.Box], bytes, int, bytes]:
    """(picture boxes, packed local feature sets, keypoints in all, packed visual words of
    each set) of a stored picture."""
    boxes = parts.picture_boxes(picture)
    sets = local.extract_sets(picture, boxes)
    words = visual_words.pack(visual_words.words_of(sets))
    return boxes, local.pack_sets(sets), sum(len(s) for s in sets), words


def features_of(image_ids: Iterable[int]) -> dict[int, list[local.LocalFeatures]]:
    """The stored local feature sets of these images (those that have any)."""
    from search.models import CopyFeatures

    rows = CopyFeatures.objects.filter(image_id__in=list(image_ids), version=VERSION)
    return {
        image_id: local.unpack_sets(bytes(blob))
        for image_id, blob in rows.values_list("image_id", "local_features")
    }


@dataclass(frozen=True)
class Described:
    """What one stored image is described by for copy search."""

    image_id: int
    corpus_id: int
    boxes: list[parts.Box]
    features: bytes  # local.pack_sets
    keypoints: int
    box_vectors: np.ndarray | None = None  # (len(boxes), dim) float32, of box_fingerprint
    box_fingerprint: str = ""
    # Each feature set's visual words (``words.pack``), None: made later from ``features``
    # (``describe_missing``).
    words: bytes | None = None


@dataclass(frozen=True)
class Stored:
    """An image's stored copy data as a query uses it (more like this)."""

    features: list[local.LocalFeatures]
    box_vectors: np.ndarray | None
    words: list[np.ndarray] | None = None  # each feature set's visual words; None: not made yet


def stored_of(image_id: int, fingerprint: str) -> Stored:
    """The local features of one image and its box vectors (of encoder version
    ``fingerprint``), empty when it has none."""
    from search.models import CopyFeatures

    row = (
        CopyFeatures.objects.filter(image_id=image_id, version=VERSION)
        .values_list("local_features", "box_vectors", "box_fingerprint", "words", "words_version")
        .first()
    )
    if row is None:
        return Stored(features=[], box_vectors=None)
    blob, vectors, made_with, words, words_version = row
    boxes = None
    if vectors is not None and made_with == fingerprint:
        boxes = np.frombuffer(bytes(vectors), dtype=np.float32)  # (boxes × dim), flat
    if words is not None and words_version == visual_words.version():
        words = visual_words.unpack(bytes(words))
    else:
        words = None
    return Stored(features=local.unpack_sets(bytes(blob)), box_vectors=boxes, words=words)


def save(rows: Sequence[Described]) -> None:
    """Store described images, replacing what they had."""
    from search.models import CopyFeatures

    CopyFeatures.objects.bulk_create(
        [
            CopyFeatures(
                image_id=row.image_id,
                corpus_id=row.corpus_id,
                version=VERSION,
                boxes=[list(box) for box in row.boxes],
                local_features=row.features,
                keypoints=row.keypoints,
                box_vectors=None
                if row.box_vectors is None
                else np.ascontiguousarray(row.box_vectors, np.float32).tobytes(),
                box_fingerprint=row.box_fingerprint,
                words=row.words,
                words_version=visual_words.version() if row.words is not None else "",
            )
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["image"],
        update_fields=[
            "version", "boxes", "local_features", "keypoints", "box_vectors", "box_fingerprint",
            "words", "words_version",
        ],
    )  # fmt: skip


def describe_picture(
    image_id: int, corpus_id: int, picture: Image.Image, encoder
) -> tuple[Described, list[np.ndarray]]:
    """An image's copy data from its ``copy_picture``, with the boxes' pixels (what the encoder
    sees of each) for ``with_box_vectors``."""
    boxes, blob, keypoints, words = describe(picture)
    pixels = [encoder.preprocess(parts.crop(picture, box)) for box in boxes]
    return Described(image_id, corpus_id, boxes, blob, keypoints, words=words), pixels


def undescribable(image_id: int, corpus_id: int) -> Described:
    """The copy data of an image that could not be read: searchable, as "similar" only."""
    return Described(image_id, corpus_id, [], local.pack_sets([]), 0, words=visual_words.pack([]))


def _describe_record(record: ImageRecord, encoder) -> tuple[Described, list[np.ndarray]]:
    try:
        with record.file.open("rb") as handle:
            picture = copy_picture(open_image(handle, min_side=DECODE_SIDE))
        return describe_picture(record.pk, record.corpus_id, picture, encoder)
    except Exception as exc:  # an unreadable file stays searchable, as "similar" only
        logger.warning("image %s: no copy features (%s)", record.pk, exc)
        return undescribable(record.pk, record.corpus_id), []


def with_box_vectors(described: Described, pixels: list, encoder) -> Described:
    """``described`` with the encoder's vectors of its boxes (``pixels``)."""
    if not pixels:
        return described
    vectors = encoder.encode_batch(np.stack(pixels))
    return replace(described, box_vectors=vectors, box_fingerprint=encoder.fingerprint)


def store_described(described: Iterable[tuple[Described, list[np.ndarray]]], encoder) -> None:
    """Store images' copy data (``describe_picture``'s) with the vectors of their boxes by
    ``encoder``. An image deleted meanwhile gets no row (its foreign key would fail the batch)."""
    rows = [with_box_vectors(row, pixels, encoder) for row, pixels in described]
    alive = set(ImageRecord.objects.filter(pk__in=[row.image_id for row in rows]).values_list(
        "pk", flat=True))  # fmt: skip
    save([row for row in rows if row.image_id in alive])


def undescribed(image_ids: Iterable[int]) -> set[int]:
    """Those of ``image_ids`` without copy data of this ``VERSION``."""
    from search.models import CopyFeatures

    ids = set(image_ids)
    done = CopyFeatures.objects.filter(image_id__in=ids, version=VERSION)
    return ids - set(done.values_list("image_id", flat=True))


def missing(corpus: Corpus):
    """The corpus's encoded images without copy features of this ``VERSION``."""
    from search.models import CopyFeatures
    from search.selectors import encoded_vectors

    done = CopyFeatures.objects.filter(corpus=corpus, version=VERSION).values("image_id")
    encoded = encoded_vectors(corpus=corpus).values("image_id")
    return ImageRecord.objects.filter(pk__in=encoded).exclude(pk__in=done).order_by("pk")


def describe_missing(*, corpus: Corpus, encoder, stop: Callable[[], bool] = lambda: False) -> int:
    """Find and store the copy features of every encoded image of ``corpus`` that lacks them
    (new images, and images stored before copy search or by another version of it), with the
    vectors of their picture boxes by ``encoder``, a batch at a time, until done or
    ``stop()``; then the visual words of rows that lack them (``add_words``). Returns how many
    images were described."""
    described = 0
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        while not stop():
            records = list(missing(corpus).only("id", "file", "corpus_id")[:BATCH])
            if not records:
                break
            store_described(pool.map(lambda r: _describe_record(r, encoder), records), encoder)
            described += len(records)
    add_words(corpus=corpus, stop=stop)
    return described


def words_missing(corpus: Corpus):
    """The corpus's described rows (this ``VERSION``) without words of this vocabulary."""
    from search.models import CopyFeatures

    current = CopyFeatures.objects.filter(corpus=corpus, version=VERSION)
    return current.exclude(words_version=visual_words.version())


def add_words(*, corpus: Corpus, stop: Callable[[], bool] = lambda: False) -> int:
    """Give the rows described before the visual words (or before this vocabulary) their
    words, made from their stored descriptors (no picture is decoded: ~5 ms of CPU a feature
    set), a batch at a time until done or ``stop()``; returns how many rows got them."""
    from search.models import CopyFeatures

    done = 0
    while not stop():
        rows = list(
            words_missing(corpus)
            .order_by("image_id")
            .values_list("image_id", "local_features")[:WORDS_BATCH]
        )
        if not rows:
            break
        version = visual_words.version()
        CopyFeatures.objects.bulk_update(
            [
                CopyFeatures(
                    image_id=image_id,
                    words=visual_words.words_of_blob(bytes(blob)),
                    words_version=version,
                )
                for image_id, blob in rows
            ],
            ["words", "words_version"],
        )
        done += len(rows)
    return done


def incomplete(corpus: Corpus) -> bool:
    """Whether some encoded image of ``corpus`` still lacks copy data or its words."""
    return missing(corpus).exists() or words_missing(corpus).exists()
