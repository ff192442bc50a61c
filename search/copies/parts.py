"""The views of a picture that copy search looks at besides the whole: picture boxes found
inside it (the cells of a collage, the photo on a screenshot, an inset, the photo between
caption bands), a grid of overlapping windows, and the picture turned and mirrored.

A box is ``(left, top, right, bottom)`` in fractions of the picture's width and height, the
convention of ``search.queries.regions.Region``. Pure numpy / PIL / OpenCV functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from search.copies.opencv import cv2

Box = tuple[float, float, float, float]
WHOLE: Box = (0.0, 0.0, 1.0, 1.0)
DETECT_SIDE = 512  # boxes are looked for on the picture scaled to this long side
MIN_BOX_AREA = 0.03  # of the picture
MAX_BOX_AREA = 0.85
MAX_BOXES = 4
MIN_BOX_PIXELS = 48  # per side, at DETECT_SIDE
# A solid blob on a plain background or a closed outline may be smaller: a thumbnail on a page,
# a small picture in a collage's cell. Not an edge rectangle: small ones of those are found in
# plain photos (docs/copies.md "Small pictures").
SMALL_BOX_AREA = 0.005
SMALL_BOX_PIXELS = 32
EDGE_STEP = 24  # grey-level step across two pixels that makes an edge
EDGE_SUPPORT = 0.75  # share of each side of a rectangle its straight edges must cover
EDGE_LINES = 40  # straight lines kept per direction
MAX_EDGE_BOXES = 64
CORNER_PIXELS = 6
LINE_PIXELS = 3  # lines nearer than this are one
VERSION = 5  # of the views: evaluation caches and stored copy data name it
MIN_BOX_CONTRAST = (
    12.0  # grey-level standard deviation: a flat patch (a label, a bar) is no picture
)


@dataclass(frozen=True)
class View:
    """One picture the encoder sees: ``box`` of the source, then ``turn`` quarter turns
    anticlockwise and a mirror (``mirrored``) applied to it."""

    kind: str  # "whole", "box", "grid", "turn", "mirror"
    box: Box = WHOLE
    turn: int = 0
    mirrored: bool = False

    def render(self, picture: Image.Image) -> Image.Image:
        out = crop(picture, self.box)
        if self.mirrored:
            out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if self.turn:
            out = out.transpose(
                (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)[
                    self.turn - 1
                ]
            )
        return out


def crop(picture: Image.Image, box: Box) -> Image.Image:
    if box == WHOLE:
        return picture
    w, h = picture.size
    return picture.crop(
        (round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h))
    )


def _iou(a: Box, b: Box) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _plausible(
    x: int, y: int, bw: int, bh: int, w: int, h: int, *, small: bool = False
) -> float | None:
    """The box's share of the picture when it could be a placed picture, else None."""
    least = SMALL_BOX_PIXELS if small else MIN_BOX_PIXELS
    if bw < least or bh < least:
        return None
    area = bw * bh / (w * h)
    if not (SMALL_BOX_AREA if small else MIN_BOX_AREA) <= area <= MAX_BOX_AREA or not (
        0.25 <= bw / bh <= 4
    ):
        return None
    return area


def _background_boxes(rgb: np.ndarray) -> list[tuple[float, Box]]:
    """Solid blobs on a plain background (a page, a collage's gaps, caption bands): pixels
    unlike the border's median colour, joined, whose bounding box they mostly fill (a paragraph
    of text does not)."""
    h, w = rgb.shape[:2]
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)
    background = np.median(border, axis=0)
    if np.mean(np.abs(border - background).max(axis=1) < 12) < 0.5:
        return []  # no plain border: not a page or a collage
    # Unlike the background: some channel 12 or more away from its median. The pixels within
    # 12 of it on every channel, as one inRange over integer bounds (the same pixels as the
    # per-pixel difference in int16, a tenth of the time: docs/benchmarks.md "Copy search").
    lower = tuple(float(v) for v in np.clip(np.floor(background - 12) + 1, 0, 255))
    upper = tuple(float(v) for v in np.clip(np.ceil(background + 12) - 1, 0, 255))
    mask = (cv2.inRange(np.ascontiguousarray(rgb), lower, upper) == 0).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    found = []
    for x, y, bw, bh, pixels in stats[1:count].tolist():
        area = _plausible(x, y, bw, bh, w, h, small=True)
        if area is not None and pixels >= 0.8 * bw * bh:
            found.append((area, (x / w, y / h, (x + bw) / w, (y + bh) / h)))
    return found


def _runs(edges: np.ndarray, length: int, axis: int) -> np.ndarray:
    """``edges`` (uint8 0/1) kept only where they are part of a straight run of at least
    ``length`` pixels along ``axis`` (1: horizontal), small gaps bridged and a pixel of jitter
    across allowed (a resampled border steps between two neighbouring rows)."""
    bridge = np.ones((1, 3) if axis == 1 else (3, 1), np.uint8)
    keep = np.ones((1, length) if axis == 1 else (length, 1), np.uint8)
    runs = cv2.dilate(edges, bridge.T)
    runs = cv2.morphologyEx(runs, cv2.MORPH_CLOSE, bridge)
    return cv2.morphologyEx(runs, cv2.MORPH_OPEN, keep)


def _lines(runs: np.ndarray, length: int, limit: int = EDGE_LINES) -> np.ndarray:
    """Positions (rows of ``runs``) holding at least ``length`` run pixels, the strongest
    ``limit`` after keeping the strongest of each group of neighbours."""
    counts = cv2.reduce(runs, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.int64)
    peaks = (counts >= length) & (counts >= np.maximum(np.roll(counts, 1), np.roll(counts, -1)))
    rows = np.flatnonzero(peaks)
    kept: list[int] = []
    for row in rows[np.argsort(-counts[rows], kind="stable")].tolist():
        if all(abs(row - other) > LINE_PIXELS for other in kept):
            kept.append(row)
        if len(kept) == limit:
            break
    return np.asarray(sorted(kept), dtype=np.int64)


def _side_support(sums: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For line i (its run pixels' running sums ``sums[i]``) and the side from ``ends[j]`` to
    ``ends[k]``: [i, j, k] the share of the side covered, and how many of its two ends have
    nothing covered within ``CORNER_PIXELS`` (a side reaches its corners; a line of a
    neighbouring picture across a gap does not)."""
    start, stop = ends[:, None], ends[None, :]
    first = np.minimum(start + CORNER_PIXELS, stop)
    last = np.maximum(stop - CORNER_PIXELS, start)
    rows = np.arange(len(sums))[:, None, None]
    whole = (sums[rows, stop] - sums[rows, start]) / np.maximum(stop - start, 1)
    empty_ends = (sums[rows, first] == sums[rows, start]).astype(np.int8) + (
        sums[rows, stop] == sums[rows, last]
    )
    return whole, empty_ends


def _channel_max(steps: np.ndarray) -> np.ndarray:
    red, green, blue = cv2.split(np.ascontiguousarray(steps))
    return cv2.max(cv2.max(red, green), blue)


def _edge_boxes(rgb: np.ndarray) -> list[tuple[float, Box]]:
    """Rectangles whose four sides are straight colour edges over most of their length: a
    picture pasted on another picture (an inset) or on a page, with or without a frame.
    Edges are colour steps across two pixels; a side is supported where a straight run of
    them lies within a pixel or two of it."""
    h, w = rgb.shape[:2]
    rgb = np.ascontiguousarray(rgb)
    step_y = np.zeros((h, w), np.uint8)  # colour step between the rows above and below
    step_y[1:-1] = _channel_max(cv2.absdiff(rgb[2:], rgb[:-2]))
    step_x = np.zeros((h, w), np.uint8)
    step_x[:, 1:-1] = _channel_max(cv2.absdiff(rgb[:, 2:], rgb[:, :-2]))
    # Edge pixels of one direction: a strong step, stronger than across, and the strongest of
    # its neighbours along the step (texture has steps everywhere, a border one thin line).
    horizontal = (step_y >= EDGE_STEP) & (step_y >= step_x)
    horizontal[1:-1] &= (step_y[1:-1] >= step_y[:-2]) & (step_y[1:-1] >= step_y[2:])
    vertical = (step_x >= EDGE_STEP) & (step_x > step_y)
    vertical[:, 1:-1] &= (step_x[:, 1:-1] >= step_x[:, :-2]) & (step_x[:, 1:-1] >= step_x[:, 2:])
    h_runs = _runs(horizontal.astype(np.uint8), MIN_BOX_PIXELS, 1)
    v_runs = np.ascontiguousarray(_runs(vertical.astype(np.uint8), MIN_BOX_PIXELS, 0).T)  # rows: x
    rows, cols = _lines(h_runs, MIN_BOX_PIXELS), _lines(v_runs, MIN_BOX_PIXELS)
    if len(rows) < 2 or len(cols) < 2:
        return []
    h_sum = np.concatenate([np.zeros((h, 1)), np.cumsum(h_runs, axis=1)], axis=1)
    v_sum = np.concatenate([np.zeros((w, 1)), np.cumsum(v_runs, axis=1)], axis=1)
    # support[i, j, k]: share of the line rows[i] (cols[i]) covered between cols[j] and cols[k]
    h_support, h_empty = _side_support(h_sum[rows], cols)  # [line, left, right]
    v_support, v_empty = _side_support(v_sum[cols], rows)  # [column, top, bottom]
    found = []
    for t in range(len(rows)):
        for b in range(t + 1, len(rows)):
            top_bottom = np.minimum(h_support[t], h_support[b])  # (left j, right k)
            sides = np.minimum(v_support[:, t, b][:, None], v_support[:, t, b][None, :])
            empty = h_empty[t] + h_empty[b] + v_empty[:, t, b][:, None] + v_empty[:, t, b][None, :]
            good = (np.minimum(top_bottom, sides) >= EDGE_SUPPORT) & (empty <= 1)
            ok = np.argwhere(np.triu(good, 1))
            for j, k in ok.tolist():
                x, y = int(cols[j]), int(rows[t])
                bw, bh = int(cols[k] - cols[j]), int(rows[b] - rows[t])
                area = _plausible(x, y, bw, bh, w, h)
                if area is not None:
                    found.append((area, (x / w, y / h, (x + bw) / w, (y + bh) / h)))
            if len(found) > MAX_EDGE_BOXES:
                return []  # straight edges everywhere: a texture or a drawing, not a layout
    return found


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _overlap(a: Box, b: Box) -> float:
    return _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def _inside(outer: Box, inner: Box) -> bool:
    return _overlap(outer, inner) >= 0.9 * _area(inner) and _iou(outer, inner) < 0.7


def _two_pictures(box: Box, others: Sequence[Box]) -> bool:
    """Whether two boxes inside ``box``, apart, fill most of it: two cells of a collage
    together, not one picture."""
    inside = [other for other in others if _inside(box, other)]
    return any(
        _overlap(a, b) < 0.05 * min(_area(a), _area(b)) and _area(a) + _area(b) >= 0.7 * _area(box)
        for n, a in enumerate(inside)
        for b in inside[n + 1 :]
    )


def picture_boxes(picture: Image.Image, *, limit: int = MAX_BOXES) -> list[Box]:
    """Rectangles that look like pictures placed inside ``picture``, largest first,
    near-duplicates merged: solid blobs on a plain background, closed straight-edged
    outlines (Canny edges, contours approximated by four corners, nearly filling their
    bounding box) and rectangles of straight colour edges, of a plausible size; a box that
    holds two others (two cells of a collage together) is not a picture. Past ``limit``, boxes
    inside another box go first."""
    scale = min(1.0, DETECT_SIDE / max(picture.size))
    small = picture
    if scale < 1.0:
        small = picture.resize(
            (max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
            Image.Resampling.BILINEAR,
        )
    rgb = np.asarray(small.convert("RGB"))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    if min(h, w) < 2 * MIN_BOX_PIXELS:
        return []
    found = _background_boxes(rgb)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (3, 3), 0), 40, 120)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for contour in contours:
        x, y, bw, bh = cv2.boundingRect(contour)
        area = _plausible(x, y, bw, bh, w, h, small=True)
        if area is None:
            continue
        hull = cv2.convexHull(contour)
        if cv2.contourArea(hull) < 0.9 * bw * bh:
            continue
        approx = cv2.approxPolyDP(hull, 0.03 * cv2.arcLength(hull, True), True)
        if len(approx) != 4:
            continue
        # The dilated outline adds a pixel or two each side: take the middle of it.
        box = ((x + 1) / w, (y + 1) / h, (x + bw - 1) / w, (y + bh - 1) / h)
        found.append((area, box))
    # Edge rectangles last: where one matches a blob or an outline, the pixel-exact box stays.
    found = sorted(found, key=lambda item: -item[0])
    exact = len(found)
    found += sorted(_edge_boxes(rgb), key=lambda item: -item[0])
    candidates: list[tuple[float, Box, bool]] = []  # area, box, pixel-exact
    for n, (area, box) in enumerate(found):
        x0, y0, x1, y1 = (
            round(box[0] * w),
            round(box[1] * h),
            round(box[2] * w),
            round(box[3] * h),
        )
        if float(grey[y0:y1, x0:x1].std()) < MIN_BOX_CONTRAST:
            continue
        if all(_iou(box, other) < 0.7 for _, other, _ in candidates):
            candidates.append((area, box, n < exact))
    candidates.sort(key=lambda item: -item[0])
    boxes = [box for _, box, _ in candidates]
    pictures = [(box, is_exact) for _, box, is_exact in candidates if not _two_pictures(box, boxes)]
    # Straight lines inside a picture already found exactly are that picture's content.
    kept = [
        box
        for box, is_exact in pictures
        if is_exact
        or not any(_inside(other, box) for other, other_exact in pictures if other_exact)
    ]
    # Past the limit, a box inside another is dropped before a small picture of its own.
    nested = [any(_inside(other, box) for other in kept if other != box) for box in kept]
    return [box for box, inner in zip(kept, nested, strict=True) if not inner][:limit] + [
        box for box, inner in zip(kept, nested, strict=True) if inner
    ][: max(limit - nested.count(False), 0)]


def grid_boxes(side: float = 0.6, steps: int = 3) -> list[Box]:
    """Overlapping square-ish windows of ``side`` of each dimension on a ``steps``×``steps``
    grid of positions."""
    starts = np.linspace(0.0, 1.0 - side, steps)
    return [(float(x), float(y), float(x + side), float(y + side)) for y in starts for x in starts]
