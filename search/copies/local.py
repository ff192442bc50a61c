"""Local features and their geometric verification: is a candidate a copy of the query (the
same picture, or a part of it, under some crop / scale / rotation / mirror / recolouring), and
where do the two overlap?

``extract`` finds up to ``MAX_KEYPOINTS`` SIFT keypoints on the picture scaled to ``SIDE`` and
keeps them compactly (uint16 coordinates, uint8 descriptors: ~66 kB at 500); ``verify``
matches two sets (ratio test), fits a similarity transform (rotation, scale, translation) with
RANSAC, and answers a ``Match`` when enough features agree. Mirror images are verified against
the features of the mirrored query (``extract(..., mirrored=True)``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

from search.copies.parts import Box

SIDE = 640  # long side the features are found at
MAX_KEYPOINTS = 500
RATIO = 0.8  # Lowe's ratio test
MIN_INLIERS = 10
# Agreeing features among those inside the matched region of the sparser side: a real copy
# matches a good share of them, text on two different pages only a few.
MIN_INLIER_SHARE = 0.1
RANSAC_PIXELS = 6.0  # reprojection error at SIDE
MIN_SCALE, MAX_SCALE = 1 / 8, 8.0  # a copy is at most 8x larger or smaller
FORMAT = 1
_HEADER = struct.Struct("<BBHHH")  # format, mirrored, width, height, count


@dataclass(frozen=True)
class LocalFeatures:
    width: int  # of the picture the features were found on (long side SIDE or less)
    height: int
    points: np.ndarray  # (n, 2) float32 pixel coordinates
    descriptors: np.ndarray  # (n, 128) uint8
    mirrored: bool = False  # found on the mirrored picture

    def __len__(self) -> int:
        return len(self.points)

    def to_bytes(self) -> bytes:
        count = len(self.points)
        header = _HEADER.pack(FORMAT, int(self.mirrored), self.width, self.height, count)
        coords = np.round(self.points * 4).clip(0, 65535).astype("<u2")  # quarter pixels
        return (
            header + coords.tobytes() + np.ascontiguousarray(self.descriptors, np.uint8).tobytes()
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> LocalFeatures:
        fmt, mirrored, width, height, count = _HEADER.unpack_from(blob)
        if fmt != FORMAT:
            raise ValueError(f"unknown local features format {fmt}")
        offset = _HEADER.size
        coords = np.frombuffer(blob, dtype="<u2", count=2 * count, offset=offset)
        offset += 4 * count
        descriptors = np.frombuffer(blob, dtype=np.uint8, count=128 * count, offset=offset)
        return cls(
            width=width,
            height=height,
            points=coords.reshape(count, 2).astype(np.float32) / 4,
            descriptors=descriptors.reshape(count, 128),
            mirrored=bool(mirrored),
        )


_sift = None


def _detector():
    global _sift
    if _sift is None:
        _sift = cv2.SIFT_create(nfeatures=MAX_KEYPOINTS)
    return _sift


def working_picture(picture: Image.Image, side: int = SIDE) -> np.ndarray:
    """The greyscale uint8 array features are found on: long side at most ``side``."""
    grey = picture.convert("L")
    scale = side / max(grey.size)
    if scale < 1.0:
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
            Image.Resampling.BILINEAR,
            reducing_gap=2.0,
        )
    return np.asarray(grey)


def extract(
    picture: Image.Image, *, mirrored: bool = False, limit: int = MAX_KEYPOINTS
) -> LocalFeatures:
    """SIFT keypoints (at most ``limit``, strongest first) of ``picture`` (mirrored first when
    ``mirrored``) with RootSIFT-free, plain uint8 descriptors."""
    if mirrored:
        picture = ImageOps.mirror(picture)
    grey = working_picture(picture)
    keypoints, descriptors = _detector().detectAndCompute(grey, None)
    if descriptors is None or not keypoints:
        return LocalFeatures(grey.shape[1], grey.shape[0], np.zeros((0, 2), np.float32),
                             np.zeros((0, 128), np.uint8), mirrored)  # fmt: skip
    order = np.argsort([-k.response for k in keypoints], kind="stable")[:limit]
    points = np.asarray([keypoints[i].pt for i in order], dtype=np.float32)
    return LocalFeatures(
        width=grey.shape[1],
        height=grey.shape[0],
        points=points,
        descriptors=np.clip(descriptors[order], 0, 255).astype(np.uint8),
        mirrored=mirrored,
    )


@dataclass(frozen=True)
class Match:
    """Where a copy matches: boxes as fractions (left, top, right, bottom) of each picture, the
    3×3 transform from query fractions to target fractions, the share of each picture inside
    the matched region, and the number of features that agree."""

    query_box: Box
    target_box: Box
    transform: list[list[float]]
    query_overlap: float
    target_overlap: float
    inliers: int
    mirrored: bool = False


_matcher = None


def _bf():
    global _matcher
    if _matcher is None:
        _matcher = cv2.BFMatcher(cv2.NORM_L2)
    return _matcher


def _ratio_matches(query: LocalFeatures, target: LocalFeatures) -> tuple[np.ndarray, np.ndarray]:
    pairs = _bf().knnMatch(
        query.descriptors.astype(np.float32), target.descriptors.astype(np.float32), k=2
    )
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
    q = np.asarray([query.points[m.queryIdx] for m in good], dtype=np.float32).reshape(-1, 2)
    t = np.asarray([target.points[m.trainIdx] for m in good], dtype=np.float32).reshape(-1, 2)
    return q, t


def _unit_square_in(transform: np.ndarray) -> np.ndarray:
    corners = np.asarray([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=np.float64)
    mapped = corners @ transform.T
    return (mapped[:, :2] / mapped[:, 2:3]).astype(np.float32)


def _clip_to_unit(polygon: np.ndarray) -> tuple[float, Box]:
    """Area of ``polygon`` ∩ the unit square and the bounding box of that intersection."""
    unit = np.asarray([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float32)
    area, inter = cv2.intersectConvexConvex(np.ascontiguousarray(polygon), unit)
    if inter is None or area <= 0:
        return 0.0, (0.0, 0.0, 0.0, 0.0)
    pts = inter.reshape(-1, 2).clip(0, 1)
    return float(area), (float(pts[:, 0].min()), float(pts[:, 1].min()),
                         float(pts[:, 0].max()), float(pts[:, 1].max()))  # fmt: skip


def _to_fractions(query: LocalFeatures, target: LocalFeatures, pixels: np.ndarray) -> np.ndarray:
    """The 2×3 pixel transform (query features → target features) as a 3×3 on fractions, the
    query's mirror undone (its features were found on the mirrored picture)."""
    to_pixels = np.diag([query.width, query.height, 1.0])
    if query.mirrored:  # fraction x of the query is at 1 - x of the mirrored picture
        to_pixels = to_pixels @ np.asarray([[-1, 0, 1], [0, 1, 0], [0, 0, 1]], dtype=np.float64)
    to_fractions = np.diag([1 / target.width, 1 / target.height, 1.0])
    full = np.vstack([pixels, [0, 0, 1]]).astype(np.float64)
    return to_fractions @ full @ to_pixels


def _count_inside(features: LocalFeatures, box: Box) -> int:
    x = features.points[:, 0] / features.width
    if features.mirrored:
        x = 1.0 - x
    y = features.points[:, 1] / features.height
    return int(np.count_nonzero((x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])))


def verify(query: LocalFeatures, target: LocalFeatures) -> Match | None:
    """A ``Match`` when at least ``MIN_INLIERS`` ratio-test matches agree on one similarity
    transform of plausible scale that maps a real part of each picture onto the other."""
    if len(query) < MIN_INLIERS or len(target) < MIN_INLIERS:
        return None
    q, t = _ratio_matches(query, target)
    if len(q) < MIN_INLIERS:
        return None
    pixels, mask = cv2.estimateAffinePartial2D(
        q, t, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PIXELS, maxIters=2000,
        confidence=0.995,
    )  # fmt: skip
    if pixels is None or mask is None:
        return None
    inliers = int(mask.sum())
    scale = float(np.sqrt(abs(np.linalg.det(pixels[:, :2]))))
    if inliers < MIN_INLIERS or not MIN_SCALE <= scale <= MAX_SCALE:
        return None
    transform = _to_fractions(query, target, pixels)
    target_area, target_box = _clip_to_unit(_unit_square_in(transform))
    query_area, query_box = _clip_to_unit(_unit_square_in(np.linalg.inv(transform)))
    if target_area <= 0 or query_area <= 0:
        return None
    inside = min(_count_inside(query, query_box), _count_inside(target, target_box))
    if inliers < MIN_INLIER_SHARE * inside:
        return None
    return Match(
        query_box=query_box,
        target_box=target_box,
        transform=[[round(float(v), 6) for v in row] for row in transform],
        query_overlap=round(query_area, 4),
        target_overlap=round(target_area, 4),
        inliers=inliers,
        mirrored=query.mirrored,
    )


def best_match(queries: list[LocalFeatures], target: LocalFeatures) -> Match | None:
    """The match with the most inliers among the query's feature sets (e.g. as is, mirrored)."""
    matches = [m for m in (verify(q, target) for q in queries) if m is not None]
    return max(matches, key=lambda m: m.inliers, default=None)
