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
from search.encoding.preprocessing import open_image

logger = logging.getLogger(__name__)

# Rows made with another feature format or box detector are ignored, and made again.
VERSION = local.FORMAT * 100 + parts.VERSION
# Stored pictures are decoded with at least this short side for their features (a camera
# JPEG at 1/8 scale: DCT coefficients only, the cheapest decode; features are found at up to
# local.SIDE on the long side).
DECODE_SIDE = 360
BATCH = 16
THREADS = 2


def describe(picture: Image.Image) -> tuple[list[parts.Box], bytes, int]:
    """(picture boxes, packed local feature sets, keypoints in all) of a stored picture."""
    boxes = parts.picture_boxes(picture)
    sets = local.extract_sets(picture, boxes)
    return boxes, local.pack_sets(sets), sum(len(s) for s in sets)


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


@dataclass(frozen=True)
class Stored:
    """An image's stored copy data as a query uses it (more like this)."""

    features: list[local.LocalFeatures]
    box_vectors: np.ndarray | None


def stored_of(image_id: int, fingerprint: str) -> Stored:
    """The local features of one image and its box vectors (of encoder version
    ``fingerprint``), empty when it has none."""
    from search.models import CopyFeatures

    row = (
        CopyFeatures.objects.filter(image_id=image_id, version=VERSION)
        .values_list("local_features", "box_vectors", "box_fingerprint")
        .first()
    )
    if row is None:
        return Stored(features=[], box_vectors=None)
    blob, vectors, made_with = row
    boxes = None
    if vectors is not None and made_with == fingerprint:
        boxes = np.frombuffer(bytes(vectors), dtype=np.float32)  # (boxes × dim), flat
    return Stored(features=local.unpack_sets(bytes(blob)), box_vectors=boxes)


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
            )
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["image"],
        update_fields=[
            "version", "boxes", "local_features", "keypoints", "box_vectors", "box_fingerprint"
        ],
    )  # fmt: skip


def _describe_record(record: ImageRecord, encoder) -> tuple[Described, list[np.ndarray]]:
    """Local features and picture boxes of a stored image; the boxes' pixels (what the
    encoder sees of each) for ``_box_vectors``."""
    try:
        with record.file.open("rb") as handle:
            picture = open_image(handle, min_side=DECODE_SIDE)
        boxes, blob, keypoints = describe(picture)
        pixels = [encoder.preprocess(parts.crop(picture, box)) for box in boxes]
    except Exception as exc:  # an unreadable file stays searchable, as "similar" only
        logger.warning("image %s: no copy features (%s)", record.pk, exc)
        boxes, blob, keypoints, pixels = [], local.pack_sets([]), 0, []
    described = Described(record.pk, record.corpus_id, boxes, blob, keypoints)
    return described, pixels


def _with_box_vectors(described: Described, pixels: list, encoder) -> Described:
    if not pixels:
        return described
    vectors = encoder.encode_batch(np.stack(pixels))
    return replace(described, box_vectors=vectors, box_fingerprint=encoder.fingerprint)


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
    ``stop()``; returns how many were described."""
    described = 0
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        while not stop():
            records = list(missing(corpus).only("id", "file", "corpus_id")[:BATCH])
            if not records:
                break
            rows = [
                _with_box_vectors(described, pixels, encoder)
                for described, pixels in pool.map(lambda r: _describe_record(r, encoder), records)
            ]
            # An image deleted meanwhile gets no row (its foreign key would fail the batch).
            alive = set(ImageRecord.objects.filter(pk__in=[r.pk for r in records]).values_list(
                "pk", flat=True))  # fmt: skip
            save([row for row in rows if row.image_id in alive])
            described += len(records)
    return described
