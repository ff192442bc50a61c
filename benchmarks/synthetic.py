"""Rows for benchmarks: encoded image records with given vectors, inserted in bulk (no files)."""

from __future__ import annotations

import numpy as np


def synthetic_record(corpus, index: int, **fields):
    """An unsaved ``ImageRecord`` numbered ``index`` in ``corpus``, with no file behind it."""
    from corpora.models import ImageRecord

    return ImageRecord(
        corpus=corpus,
        file=f"corpora/{corpus.pk}/synthetic-{index}.jpg",
        original_filename=f"synthetic-{index}.jpg",
        sha256=f"{corpus.pk:08x}{index:056x}",
        width=1,
        height=1,
        format="JPEG",
        byte_size=1,
        **fields,
    )


def store_encoded(corpus, vectors: np.ndarray, fingerprint: str) -> list[int]:
    """Insert one encoded ``ImageRecord`` per row of ``vectors``, with its stored vector
    (``search.models.ImageVector``); returns their ids in order."""
    from django.db import transaction

    from corpora.models import ImageRecord

    ids: list[int] = []
    for start in range(0, len(vectors), 5000):
        chunk = vectors[start : start + 5000]
        rows = [synthetic_record(corpus, start + j, status="encoded") for j in range(len(chunk))]
        with transaction.atomic():
            records = ImageRecord.objects.bulk_create(rows, batch_size=1000)
            store_vectors(corpus, records, chunk, fingerprint)
        ids += [record.pk for record in records]
    return ids


def store_vectors(corpus, records, vectors, fingerprint: str, labels=None) -> None:
    """The stored vectors (and labels) of ``records``, as the encoding job writes them."""
    from search.encoders.labels import label_text
    from search.models import ImageVector

    ImageVector.objects.bulk_create(
        (
            ImageVector(
                image_id=record.pk,
                corpus_id=corpus.pk,
                encoder=corpus.encoder,
                fingerprint=fingerprint,
                vector=None if vector is None else np.asarray(vector, np.float32).tobytes(),
                status="encoded",
                labels=labels[i] if labels else [],
                label_text=label_text(labels[i]) if labels else "",
            )
            for i, (record, vector) in enumerate(zip(records, vectors, strict=True))
        ),
        batch_size=1000,
    )
