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
    """Insert one encoded ``ImageRecord`` per row of ``vectors``; returns their ids in order."""
    from django.db import transaction

    from corpora.models import ImageRecord

    ids: list[int] = []
    for start in range(0, len(vectors), 5000):
        rows = [
            synthetic_record(
                corpus,
                start + j,
                status="encoded",
                embedding=np.asarray(vector, dtype=np.float32).tobytes(),
                encoder_fingerprint=fingerprint,
            )
            for j, vector in enumerate(vectors[start : start + 5000])
        ]
        with transaction.atomic():
            ids += [row.pk for row in ImageRecord.objects.bulk_create(rows, batch_size=1000)]
    return ids
