"""Reads of stored vectors: the one query every index build, exact search and expansion uses."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from django.db.models import QuerySet

from corpora.models import Corpus, ImageRecord, ImageStatus


def encoded_records(
    *,
    corpus: Corpus,
    fingerprint: str | None = None,
    record_ids: Iterable[int] | None = None,
) -> QuerySet[ImageRecord]:
    """The corpus's records that have a stored vector: of encoder ``fingerprint`` when given,
    among ``record_ids`` when given."""
    records = ImageRecord.objects.filter(corpus=corpus, status=ImageStatus.ENCODED).exclude(
        embedding=None
    )
    if fingerprint is not None:
        records = records.filter(encoder_fingerprint=fingerprint)
    if record_ids is not None:
        records = records.filter(pk__in=[int(pk) for pk in record_ids])
    return records


def as_vector(blob: bytes) -> np.ndarray:
    """A stored embedding as the float32 vector it was written from."""
    return np.frombuffer(blob, dtype=np.float32)
