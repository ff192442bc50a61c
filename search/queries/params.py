"""Search parameters checked once, at the edge (page views and API serializers), then passed
to the services as plain values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from crier_site.errors import InvalidInput

MAX_K = 100
# How deep a query can be paged (offset + k), and how many hits a min_score count looks at.
MAX_DEPTH = 1000
DEFAULT_K = 10  # the API's default; the result page shows more
PAGE_K = 24  # results a page shows unless asked for another k
PAGE_K_CHOICES = (10, 24, 50, 100)  # what the search form offers
DEFAULT_THRESHOLD = 0.9
MIN_THRESHOLD = 0.5

T = TypeVar("T")


def validate_k(raw: object, *, default: int = DEFAULT_K) -> int:
    """The number of results asked for (a whole number from 1 to ``MAX_K``; empty: default)."""
    if raw is None or raw == "":
        return default
    try:
        k = int(raw) if isinstance(raw, str) else raw
    except ValueError:
        k = None
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be a whole number from 1 to {MAX_K}.", field="k")
    return k


def validate_threshold(raw: object) -> float:
    """A near-duplicate threshold: a cosine similarity from ``MIN_THRESHOLD`` to 1 (empty:
    default)."""
    if raw is None or raw == "":
        return DEFAULT_THRESHOLD
    try:
        threshold = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput("The threshold must be a number.", field="threshold") from None
    if not MIN_THRESHOLD <= threshold <= 1.0:
        raise InvalidInput(
            f"The threshold must be between {MIN_THRESHOLD} and 1 (cosine similarity).",
            field="threshold",
        )
    return threshold


@dataclass(frozen=True)
class Page:
    """Which slice of a query's ranking to return: ``k`` hits from ``offset`` on (best first,
    equal scores by image id), only those scoring at least ``min_score`` when it is given.
    Made by :func:`validate_page`."""

    k: int = DEFAULT_K
    offset: int = 0
    min_score: float | None = None

    @property
    def depth(self) -> int:
        """Hits to rank: this page and one more (is there a next page?), or, to count the
        matches above ``min_score``, as many as can be paged through."""
        if self.min_score is not None:
            return MAX_DEPTH
        return min(MAX_DEPTH, self.offset + self.k + 1)

    def cut(self, ranked: Sequence[T]) -> tuple[list[T], bool]:
        """This page of ``ranked`` (a ranking at least ``depth`` deep where it can be), and
        whether any hit follows it."""
        end = self.offset + self.k
        return list(ranked[self.offset : end]), len(ranked) > end


def validate_page(
    *, k: object = None, offset: object = None, min_score: object = None, default_k: int = DEFAULT_K
) -> Page:
    """k, offset and min_score from a form or the API (strings or numbers; empty: defaults).
    Only the best ``MAX_DEPTH`` hits can be paged through: a page reaching past them is cut
    short (no error, so every request the schema allows is answered). min_score is a cosine
    similarity, -1 to 1."""
    k = validate_k(k, default=default_k)
    start = _whole_number(offset, "offset")
    if start < 0:
        raise InvalidInput("offset must be 0 or more.", field="offset")
    if start >= MAX_DEPTH:
        raise InvalidInput(
            f"offset must be below {MAX_DEPTH}: only the best {MAX_DEPTH} hits of a query can "
            "be paged through.",
            field="offset",
        )
    return Page(k=k, offset=start, min_score=_min_score(min_score))


def _whole_number(raw: object, field: str) -> int:
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw) if isinstance(raw, str) else raw
    except ValueError:
        value = None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be a whole number.", field=field)
    return value


def _min_score(raw: object) -> float | None:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    try:
        score = float(raw.strip().replace(",", ".") if isinstance(raw, str) else raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        score = math.nan
    if isinstance(raw, bool) or not -1.0 <= score <= 1.0:  # NaN fails this too
        raise InvalidInput(
            "min_score must be a number from -1 to 1 (a cosine similarity; 1 is identical).",
            field="min_score",
        )
    return score
