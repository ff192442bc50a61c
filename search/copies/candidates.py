"""Candidates that see parts: which views of a stored picture go into the index, which views of
a query are searched, and how view-to-view similarities become one score per image.

The index holds every stored picture whole plus the picture boxes found inside it (a collage's
cells, a screenshot's photos, an inset): a whole query then finds the copy inside a composite.
A query is searched whole, turned by each quarter turn, mirrored, by the picture boxes found in
it, and by a grid of windows: a part finds the whole, turned and mirrored copies are found.
An image's candidate score is its best view-to-view similarity, a pair through a grid window
counting ``PART_PENALTY`` less (docs/copies.md measures the alternatives).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from search.copies.parts import Box, View, grid_boxes, picture_boxes

TURNS = (1, 2, 3)


@dataclass(frozen=True)
class ViewPlan:
    """Which views to take of a picture (what evaluation compares)."""

    boxes: bool = True
    turns: bool = False
    mirror: bool = False
    grid: int = 0  # positions per side of the window grid (0: none)
    grid_side: float = 0.6

    def views(self, picture: Image.Image, *, boxes: list[Box] | None = None) -> list[View]:
        """The whole picture first, then the others; ``boxes``: its picture boxes when they
        were already found."""
        views = [View("whole")]
        if self.turns:
            views += [View("turn", turn=t) for t in TURNS]
        if self.mirror:
            views.append(View("mirror", mirrored=True))
        if self.boxes:
            found = picture_boxes(picture) if boxes is None else boxes
            views += [View("box", box=box) for box in found]
        if self.grid:
            views += [View("grid", box=box) for box in grid_boxes(self.grid_side, self.grid)]
        return views


INDEX_PLAN = ViewPlan(boxes=True)
# Turns and mirror measured no gain (docs/copies.md). The grid: the four corner windows of the
# 3×3 grid of 60 % it was; with the visual words and copies of a copy, the other five found no
# copy more on the three copy sets (verified AP of every version the same or higher without
# them) and cost 5 encoder passes a search by file (docs/benchmarks.md "Copy search: fewer
# windows").
QUERY_PLAN = ViewPlan(boxes=True, grid=2, grid_side=0.6)
# What a pair through one of the query's grid windows counts less: a window (a sleeve, a collar)
# otherwise outranks look-alikes seen whole (Fashion-MNIST mAP@10 0.667 without, 0.700 with).
# Only the windows: on every pair that is not whole to whole (boxes too) the copies sets lose
# (held out 0.887 -> 0.880), on the windows alone they gain (docs/copies.md). The service's
# value and the evaluation's default.
PART_PENALTY = 0.1
PENALISED_VIEWS = frozenset({"grid"})


def best_per_image(
    owners: np.ndarray,
    scores: np.ndarray,
    *,
    penalised: np.ndarray | None = None,
    part_penalty: float = 0.0,
) -> dict[int, float]:
    """One score per image: the best of its views' ``scores`` (``owners`` names each view's
    image); a pair marked ``penalised`` (through a part of the query) counts ``part_penalty``
    less, so a look-alike seen whole is not outranked by a chance part."""
    scores = np.asarray(scores, dtype=np.float32)
    if penalised is not None and part_penalty:
        scores = np.where(penalised, scores - np.float32(part_penalty), scores)
    best: dict[int, float] = {}
    for owner, score in zip(np.asarray(owners).tolist(), scores.tolist(), strict=True):
        if score > best.get(owner, -np.inf):
            best[owner] = score
    return best


def to_verify(
    cnn: Sequence[int], by_words: Iterable[int], depth: int, words_depth: int
) -> list[int]:
    """The candidates a query verifies: the CNN's first ``depth`` (``cnn``: best first), then
    the first ``words_depth`` of the visual words' ranking (``by_words``) not among them
    (docs/copies.md "Candidates from the visual words")."""
    head = list(cnn[:depth])
    seen = set(head)
    extra: list[int] = []
    for image in by_words:
        if len(extra) >= words_depth:
            break
        if image not in seen:
            extra.append(image)
            seen.add(image)
    return head + extra
