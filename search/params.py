"""Search parameters checked once, at the edge (page views and API serializers), then passed
to the services as plain values."""

from __future__ import annotations

from crier_site.errors import InvalidInput

MAX_K = 100
DEFAULT_K = 10  # the API's default; the result page shows more (search.views.PAGE_K)
DEFAULT_THRESHOLD = 0.9
MIN_THRESHOLD = 0.5


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
