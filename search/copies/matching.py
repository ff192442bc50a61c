"""Copies among a search's hits: the first ``CRIER_COPY_VERIFY_DEPTH`` hits are verified with
local features (``search.copies.local``); a verified hit is a **copy** (with where it matches),
every other hit is **similar**, and copies rank above look-alikes, each kind in score order.

The query's features are found once (a file) or read from storage (an image of the corpus);
the targets' were stored when they were encoded, so a search costs one extraction at most plus
the matching. A hit whose image has too few features (a flat colour, a tiny icon) cannot be
verified and stays ``similar``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TypeVar

from search.copies.local import LocalFeatures, Match, best_match, chain, query_sets

COPY, SIMILAR = "copy", "similar"
T = TypeVar("T")


# A verified copy whose match covers this share of both pictures is the query's picture itself
# (not a part of either): what is a copy of it is a copy of the query (docs/copies.md "Copies
# of a copy").
SAME_PICTURE = 0.6


def verify_targets(
    query: Sequence[LocalFeatures],
    targets: dict[int, Sequence[LocalFeatures]],
    *,
    pool: Executor | None = None,
) -> dict[int, Match]:
    """The targets (image id → stored feature sets) that are copies of the query (its sets as
    ``extract_sets`` made them), with their matches; then those of the rest that are copies of
    the query's best verified copy that is the same picture (``through_pivot``)."""
    matches = _verified(query_sets(query), targets, pool)
    pivot = same_picture(matches)
    if pivot is None:
        return matches
    rest = {i: sets for i, sets in targets.items() if i not in matches}
    through = _verified(query_sets(targets[pivot]), rest, pool)
    return matches | {i: chain(matches[pivot], match) for i, match in through.items()}


def same_picture(matches: dict[int, Match]) -> int | None:
    """The verified copy with the most agreeing features among those that are the query's
    picture itself (``SAME_PICTURE`` of both pictures matched), if any."""
    whole = [
        i for i, m in matches.items() if min(m.query_overlap, m.target_overlap) >= SAME_PICTURE
    ]
    return max(whole, key=lambda i: (matches[i].inliers, -i)) if whole else None


def _verified(
    asked: Sequence[LocalFeatures],
    targets: dict[int, Sequence[LocalFeatures]],
    pool: Executor | None,
) -> dict[int, Match]:
    """``best_match`` of ``asked`` against each target. With a ``pool``, every other target is
    verified in one of its threads meanwhile (OpenCV's matching and RANSAC release the GIL);
    when no thread of it was free by the time this one is done, this one does them too."""
    pairs = [(image_id, sets) for image_id, sets in targets.items() if asked and sets]

    def verified(some: list[tuple[int, Sequence[LocalFeatures]]]) -> dict[int, Match]:
        found = ((image_id, best_match(asked, sets)) for image_id, sets in some)
        return {image_id: match for image_id, match in found if match is not None}

    if pool is None or len(pairs) < 2:
        return verified(pairs)
    elsewhere = pool.submit(verified, pairs[1::2])
    here = verified(pairs[0::2])
    if elsewhere.cancel():  # still queued behind other searches' work
        return here | verified(pairs[1::2])
    return here | elsewhere.result()


def copies_first(
    hits: Sequence[T], matches: dict[int, Match], image_id: Callable[[T], int]
) -> list[T]:
    """``hits`` (best first) with the verified copies moved ahead, both kinds keeping their
    order."""
    copies = [hit for hit in hits if image_id(hit) in matches]
    return copies + [hit for hit in hits if image_id(hit) not in matches]


def match_json(match: Match | None) -> dict:
    """A hit's ``match`` object in the API: ``kind`` always; for a copy the boxes (fractions
    left, top, right, bottom), the 3×3 transform from query fractions to target fractions,
    the overlaps and the number of agreeing features."""
    if match is None:
        return {"kind": SIMILAR}
    return {
        "kind": COPY,
        "query_box": [round(v, 4) for v in match.query_box],
        "target_box": [round(v, 4) for v in match.target_box],
        "transform": match.transform,
        "query_overlap": match.query_overlap,
        "target_overlap": match.target_overlap,
        "inliers": match.inliers,
        "mirrored": match.mirrored,
    }
