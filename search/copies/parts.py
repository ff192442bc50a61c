"""The views of a picture that copy search looks at besides the whole: picture boxes found
inside it (the cells of a collage, the photo on a screenshot, an inset, the photo between
caption bands), a grid of overlapping windows, and the picture turned and mirrored.

A box is ``(left, top, right, bottom)`` in fractions of the picture's width and height, the
convention of ``search.queries.regions.Region``. Pure numpy / PIL / OpenCV functions.
"""

from __future__ import annotations

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
VERSION = 3  # of the views: evaluation caches and stored copy data name it
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


def _plausible(x: int, y: int, bw: int, bh: int, w: int, h: int) -> float | None:
    """The box's share of the picture when it could be a placed picture, else None."""
    if bw < MIN_BOX_PIXELS or bh < MIN_BOX_PIXELS:
        return None
    area = bw * bh / (w * h)
    if not MIN_BOX_AREA <= area <= MAX_BOX_AREA or not 0.25 <= bw / bh <= 4:
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
        area = _plausible(x, y, bw, bh, w, h)
        if area is not None and pixels >= 0.8 * bw * bh:
            found.append((area, (x / w, y / h, (x + bw) / w, (y + bh) / h)))
    return found


def picture_boxes(picture: Image.Image, *, limit: int = MAX_BOXES) -> list[Box]:
    """Rectangles that look like pictures placed inside ``picture``, largest first,
    near-duplicates merged: solid blobs on a plain background, and closed straight-edged
    outlines (Canny edges, contours approximated by four corners, nearly filling their
    bounding box) of a plausible size."""
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
        area = _plausible(x, y, bw, bh, w, h)
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
    found.sort(key=lambda item: -item[0])
    kept: list[Box] = []
    for _, box in found:
        x0, y0, x1, y1 = (
            round(box[0] * w),
            round(box[1] * h),
            round(box[2] * w),
            round(box[3] * h),
        )
        if float(grey[y0:y1, x0:x1].std()) < MIN_BOX_CONTRAST:
            continue
        if all(_iou(box, other) < 0.7 for other in kept):
            kept.append(box)
        if len(kept) == limit:
            break
    return kept


def grid_boxes(side: float = 0.6, steps: int = 3) -> list[Box]:
    """Overlapping square-ish windows of ``side`` of each dimension on a ``steps``×``steps``
    grid of positions."""
    starts = np.linspace(0.0, 1.0 - side, steps)
    return [(float(x), float(y), float(x + side), float(y + side)) for y in starts for x in starts]
