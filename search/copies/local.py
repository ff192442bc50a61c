"""Local features and their geometric verification: is a candidate a copy of the query (the
same picture, or a part of it, under some crop / scale / rotation / mirror / recolouring), and
where do the two overlap?

``extract`` finds up to ``MAX_KEYPOINTS`` SIFT keypoints, coarse ones kept (``with_coarse``),
on a picture scaled to ``SIDE`` (or on one box of it, scaled to ``BOX_SIDE``) and keeps them
compactly (uint16 coordinates, RootSIFT descriptors in 4 bits a bin: 68 bytes a keypoint, at
most ~34 kB a set);
``extract_sets`` does it for the whole picture and for the picture boxes found in it, so a photo
that is a small part of a screenshot still gets enough features of its own.
``verify`` matches two sets (ratio test), fits a similarity transform (rotation, scale,
translation) with RANSAC, and answers a ``Match`` when enough features agree. Mirror images are
verified with the query's features mirrored (``LocalFeatures.mirrored_copy``: no second
extraction).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from PIL import Image

from search.copies.opencv import cv2
from search.copies.parts import WHOLE, Box, crop

# Long side the whole picture's features are found at. OpenCV's SIFT doubles the picture
# before its first octave, so 320 px costs what 640 px would without that octave: less than
# half the CPU of a camera photo's 500-px copy picture (docs/copies.md "Local features: cost
# and bytes"), with the same mAP@8 once the contrast threshold finds the keypoints the smaller
# picture loses.
SIDE = 320
# A picture box's: boxes are small parts of a composite (a collage cell, a photo on a page)
# whose features need every pixel (at 320 the collage and inset copies were lost).
BOX_SIDE = 640
# Keypoints kept a set: the strongest, but at least COARSE_KEYPOINTS from the octaves at half the
# picture's size and coarser (``with_coarse``): the strongest overall are mostly fine-scale
# ones, which a half-size, blurred copy does not have (docs/copies.md "Degraded copies").
MAX_KEYPOINTS = 500
COARSE_KEYPOINTS = 150
CONTRAST_THRESHOLD = 0.015  # SIFT's default 0.04 finds too few on blurred, small copies
# Picture boxes that get features of their own: every box found (parts.MAX_BOXES), since the
# copy may be any cell of a collage (with two, a collage's copy had none half the time).
MAX_FEATURE_BOXES = 4
RATIO = 0.8  # Lowe's ratio test
MIN_INLIERS = 10
# Agreeing features among those inside the matched region of the sparser side: a real copy
# matches a good share of them, text on two different pages only a few.
MIN_INLIER_SHARE = 0.1
# ... unless this many agree: a blurred, JPEG-blocked copy or a texture has hundreds of keypoints
# inside the region, most of them noise (docs/copies.md "Degraded copies": 0 false copies).
SHARE_ENOUGH = 20
# The agreeing features must spread over this share of the matched region on both sides: a
# shared caption, watermark or logo lines up many features in a small part of two pictures.
MIN_SPREAD = 0.2
RANSAC_PIXELS = 6.0  # reprojection error at SIDE
MIN_SCALE, MAX_SCALE = 1 / 8, 8.0  # a copy is at most 8x larger or smaller
# A cheap first look: the query's strongest PROBE keypoints must find at least PROBE_MATCHES
# ratio-test matches before the whole set is matched (most candidates are not copies).
PROBE, PROBE_MATCHES = 100, 3
# Descriptors are kept as RootSIFT (the square root of the L1-normalised SIFT vector, whose
# Euclidean distance is the Hellinger kernel on SIFT) in 4 bits a bin: round(root × ROOT_SCALE)
# clipped to 15 (99.9 % of root values are below 0.27 on the copy set). Half the bytes of uint8
# SIFT, and matched as they are stored (docs/copies.md: mAP@8 0.895 → 0.896 tuned).
ROOT_SCALE = 56
# 7: coarse and fine keypoints interleaved (the probe sees both); 6: the strongest 500 with
# at least 150 coarse; 5: keypoints spread over octaves; 4: the 500 strongest; 3: the whole
# picture's at 640 px, contrast 0.02; 2: uint8 descriptors
FORMAT = 7
_HEADER = struct.Struct("<BBHHH4H")  # format, mirrored, width, height, count, box (1/65535)
_SETS = struct.Struct("<H")  # how many sets follow, each as <I length + bytes
_REVERSED_BINS = (8 - np.arange(8)) % 8


@dataclass(frozen=True)
class LocalFeatures:
    width: int  # of the picture the features were found on (long side SIDE or less)
    height: int
    points: np.ndarray  # (n, 2) float32 pixel coordinates
    descriptors: np.ndarray  # (n, 128) uint8, each 0..15 (``root_descriptors``)
    mirrored: bool = False  # found on the mirrored picture (or box)
    box: Box = WHOLE  # the part of the source picture they were found on

    def __len__(self) -> int:
        return len(self.points)

    @cached_property
    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """The descriptors as float32 and their squared norms (for ``_ratio_matches``),
        converted once per set."""
        matrix = self.descriptors.astype(np.float32)
        return matrix, np.einsum("ij,ij->i", matrix, matrix)

    def mirrored_copy(self) -> LocalFeatures:
        """The features of the mirrored picture, without finding them again: x becomes
        width − 1 − x, and each descriptor's 4×4 cells are flipped along the keypoint's second
        axis and its 8 orientation bins reversed (a mirror turns the keypoint's frame
        left-handed). Matches ~90 % of what SIFT finds on the mirrored picture itself."""
        cells = self.descriptors.reshape(-1, 4, 4, 8)[:, ::-1][:, :, :, _REVERSED_BINS]
        points = self.points.copy()
        points[:, 0] = self.width - 1 - points[:, 0]
        return replace(
            self,
            points=points,
            descriptors=np.ascontiguousarray(cells.reshape(-1, 128)),
            mirrored=not self.mirrored,
        )

    @cached_property
    def flipped(self) -> LocalFeatures:
        """``mirrored_copy()``, made once per set (a query's boxes are tried mirrored against
        every candidate)."""
        return self.mirrored_copy()

    def to_fractions(self) -> np.ndarray:
        """3×3: this set's pixel coordinates → fractions of the whole source picture."""
        left, top, right, bottom = self.box
        sx, sy = (right - left) / self.width, (bottom - top) / self.height
        if self.mirrored:  # pixel x of the mirrored box is at fraction 1 - x / width of it
            return np.asarray([[-sx, 0, right], [0, sy, top], [0, 0, 1]], dtype=np.float64)
        return np.asarray([[sx, 0, left], [0, sy, top], [0, 0, 1]], dtype=np.float64)

    def fractions(self) -> np.ndarray:
        """(n, 2) the keypoints as fractions of the whole source picture."""
        affine = self.to_fractions()
        return self.points.astype(np.float64) @ affine[:2, :2].T + affine[:2, 2]

    def to_bytes(self) -> bytes:
        count = len(self.points)
        box = [round(v * 65535) for v in self.box]
        header = _HEADER.pack(FORMAT, int(self.mirrored), self.width, self.height, count, *box)
        coords = np.round(self.points * 4).clip(0, 65535).astype("<u2")  # quarter pixels
        bins = np.asarray(self.descriptors, np.uint8)
        packed = (bins[:, 0::2] << 4) | bins[:, 1::2]  # two 4-bit bins a byte
        return header + coords.tobytes() + np.ascontiguousarray(packed).tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> LocalFeatures:
        fmt, mirrored, width, height, count, *box = _HEADER.unpack_from(blob)
        if fmt != FORMAT:
            raise ValueError(f"unknown local features format {fmt}")
        offset = _HEADER.size
        coords = np.frombuffer(blob, dtype="<u2", count=2 * count, offset=offset)
        offset += 4 * count
        packed = np.frombuffer(blob, dtype=np.uint8, count=64 * count, offset=offset)
        descriptors = np.empty((count, 128), np.uint8)
        descriptors[:, 0::2] = packed.reshape(count, 64) >> 4
        descriptors[:, 1::2] = packed.reshape(count, 64) & 15
        return cls(
            width=width,
            height=height,
            points=coords.reshape(count, 2).astype(np.float32) / 4,
            descriptors=descriptors,
            mirrored=bool(mirrored),
            box=tuple(v / 65535 for v in box),
        )


def pack_sets(sets: Sequence[LocalFeatures]) -> bytes:
    """Several feature sets (a picture's whole and its boxes) as one blob."""
    out = [_SETS.pack(len(sets))]
    for features in sets:
        blob = features.to_bytes()
        out += [struct.pack("<I", len(blob)), blob]
    return b"".join(out)


def unpack_sets(blob: bytes) -> list[LocalFeatures]:
    (count,) = _SETS.unpack_from(blob)
    offset, sets = _SETS.size, []
    for _ in range(count):
        (length,) = struct.unpack_from("<I", blob, offset)
        offset += 4
        sets.append(LocalFeatures.from_bytes(blob[offset : offset + length]))
        offset += length
    return sets


_sift = None


def _detector():
    global _sift
    if _sift is None:
        _sift = cv2.SIFT_create(nfeatures=0, contrastThreshold=CONTRAST_THRESHOLD)
    return _sift


def with_coarse(keypoints: Sequence, limit: int) -> np.ndarray:
    """Indices of the ``limit`` strongest keypoints, at least ``COARSE_KEYPOINTS`` of them from
    the octaves at half the picture's size and coarser (when it has that many), the coarse and
    the fine ones interleaved in proportion, each strongest first: ``verify``'s probe (the
    first ``PROBE``) then holds coarse ones too, which a half-size, blurred copy still has."""
    response = np.asarray([k.response for k in keypoints], np.float64)
    octave = np.asarray([k.octave & 255 for k in keypoints])  # 255: the doubled picture's
    strongest = np.argsort(-response, kind="stable")
    is_coarse = (octave >= 1) & (octave < 128)
    coarse = strongest[is_coarse[strongest]][:COARSE_KEYPOINTS]
    chosen = np.zeros(len(keypoints), bool)
    chosen[coarse] = True
    rest = strongest[~chosen[strongest]][: max(limit - len(coarse), 0)]
    chosen[rest] = True
    order = strongest[chosen[strongest]]
    # Each keypoint's rank within its group (coarse or not), as a share of the group's size.
    group = is_coarse[order]
    rank = np.empty(len(order), np.float64)
    for members in (group, ~group):
        count = int(members.sum())
        rank[members] = (np.arange(count) + 0.5) / max(count, 1)
    return order[np.argsort(rank, kind="stable")]


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


def root_descriptors(sift: np.ndarray) -> np.ndarray:
    """(n, 128) SIFT descriptors → RootSIFT in 4 bits a bin (uint8 0..15): ``ROOT_SCALE``."""
    sift = np.asarray(sift, np.float32)
    root = np.sqrt(sift.clip(0) / np.maximum(sift.clip(0).sum(axis=1, keepdims=True), 1.0))
    return np.clip(np.round(root * ROOT_SCALE), 0, 15).astype(np.uint8)


def extract(picture: Image.Image, *, box: Box = WHOLE, limit: int = MAX_KEYPOINTS) -> LocalFeatures:
    """SIFT keypoints (at most ``limit``, ``with_coarse``) of ``box`` of ``picture``, their
    descriptors as ``root_descriptors``."""
    grey = working_picture(crop(picture, box), SIDE if box == WHOLE else BOX_SIDE)
    keypoints, descriptors = _detector().detectAndCompute(grey, None)
    if descriptors is None or not keypoints:
        empty_points, empty = np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8)
        return LocalFeatures(grey.shape[1], grey.shape[0], empty_points, empty, box=box)
    order = with_coarse(keypoints, limit)
    points = np.asarray([keypoints[i].pt for i in order], dtype=np.float32)
    return LocalFeatures(
        width=grey.shape[1],
        height=grey.shape[0],
        points=points,
        descriptors=root_descriptors(descriptors[order]),
        box=box,
    )


def extract_sets(picture: Image.Image, boxes: Sequence[Box] = ()) -> list[LocalFeatures]:
    """The whole picture's features, then those of its first ``MAX_FEATURE_BOXES`` boxes."""
    return [extract(picture)] + [extract(picture, box=box) for box in boxes[:MAX_FEATURE_BOXES]]


def query_sets(sets: Sequence[LocalFeatures]) -> list[LocalFeatures]:
    """What a query is verified with: its whole picture as found and mirrored, then its
    boxes (``sets`` as ``extract_sets`` makes them)."""
    if not sets:
        return []
    return [sets[0], sets[0].flipped, *sets[1:]]


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


def _ratio_matches(
    query: LocalFeatures, target: LocalFeatures, rows: slice = slice(None)
) -> tuple[np.ndarray, np.ndarray]:
    """The query's keypoints (those of ``rows``) whose nearest target descriptor is clearly
    nearer than the second nearest (Lowe's ratio test), and those nearest target keypoints.

    One float32 matrix product gives every squared distance: the descriptors are uint8, so
    every dot product and norm is an integer below 2**24, exact in float32, and the distances
    are exactly those of a brute-force L2 matcher (``cv2.BFMatcher``, which this replaced: the
    same pairs in the same order, ~3× less CPU)."""
    matrix, norms = query.matrix
    target_matrix, target_norms = target.matrix
    if len(target_norms) < 2:
        empty = np.zeros((0, 2), np.float32)
        return empty, empty
    # cv2.gemm, not numpy's matmul: numpy's OpenBLAS splits a product this small over every
    # core and spin-waits for them, ~15× the CPU time on a busy 2-core machine.
    products = cv2.gemm(matrix[rows], target_matrix, -2.0, None, 0.0, flags=cv2.GEMM_2_T)
    squared = products + target_norms  # + the query's norm, below
    index = np.arange(len(squared))
    nearest = squared.argmin(axis=1)
    first = squared[index, nearest]
    squared[index, nearest] = np.inf
    second = squared.min(axis=1)
    own = norms[rows]
    distance = np.sqrt(np.maximum(first + own, 0)).astype(np.float64)
    good = distance < RATIO * np.sqrt(np.maximum(second + own, 0)).astype(np.float64)
    return query.points[rows][good], target.points[nearest[good]]


def _corners(box: Box) -> np.ndarray:
    left, top, right, bottom = box
    return np.asarray([[left, top], [right, top], [right, bottom], [left, bottom]], np.float64)


def _mapped(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    homogeneous = np.hstack([points, np.ones((len(points), 1))]) @ transform.T
    return (homogeneous[:, :2] / homogeneous[:, 2:3]).astype(np.float32)


def _clip(polygon: np.ndarray, box: Box) -> tuple[float, Box]:
    """Area of ``polygon`` ∩ ``box`` and the bounding box of that intersection."""
    area, inter = cv2.intersectConvexConvex(
        np.ascontiguousarray(polygon, np.float32), _corners(box).astype(np.float32)
    )
    if inter is None or area <= 0:
        return 0.0, (0.0, 0.0, 0.0, 0.0)
    pts = inter.reshape(-1, 2).clip(0, 1)
    return float(area), (float(pts[:, 0].min()), float(pts[:, 1].min()),
                         float(pts[:, 0].max()), float(pts[:, 1].max()))  # fmt: skip


def _spread(features: LocalFeatures, pixels: np.ndarray) -> float:
    """Area (in fractions of the whole picture) of the convex hull of some of its points."""
    affine = features.to_fractions()
    points = pixels.astype(np.float64) @ affine[:2, :2].T + affine[:2, 2]
    return float(cv2.contourArea(cv2.convexHull(points.astype(np.float32))))


def _count_inside(features: LocalFeatures, box: Box) -> int:
    x, y = features.fractions().T
    return int(np.count_nonzero((x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])))


def verify(query: LocalFeatures, target: LocalFeatures) -> Match | None:
    """A ``Match`` when at least ``MIN_INLIERS`` ratio-test matches agree on one similarity
    transform of plausible scale that maps a real part of each set's box onto the other, and
    they are a fair share of the features there."""
    if len(query) < MIN_INLIERS or len(target) < MIN_INLIERS:
        return None
    if len(query) > 2 * PROBE:  # keypoints are stored strongest first
        probe = _ratio_matches(query, target, slice(PROBE))
        if len(probe[0]) < PROBE_MATCHES:
            return None
        rest = _ratio_matches(query, target, slice(PROBE, None))
        q, t = np.concatenate([probe[0], rest[0]]), np.concatenate([probe[1], rest[1]])
    else:
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
    full = np.vstack([pixels, [0, 0, 1]]).astype(np.float64)
    transform = target.to_fractions() @ full @ np.linalg.inv(query.to_fractions())
    target_area, target_box = _clip(_mapped(transform, _corners(query.box)), target.box)
    query_area, query_box = _clip(
        _mapped(np.linalg.inv(transform), _corners(target.box)), query.box
    )
    if target_area <= 0 or query_area <= 0:
        return None
    inside = min(_count_inside(query, query_box), _count_inside(target, target_box))
    if inliers < min(MIN_INLIER_SHARE * inside, SHARE_ENOUGH):
        return None
    agreeing = mask.ravel().astype(bool)
    if _spread(query, q[agreeing]) < MIN_SPREAD * query_area or (
        _spread(target, t[agreeing]) < MIN_SPREAD * target_area
    ):
        return None
    return _rounded_match(
        query_box, target_box, transform, query_area, target_area, inliers, query.mirrored
    )


def _rounded_match(
    query_box: Box,
    target_box: Box,
    transform: np.ndarray,
    query_area: float,
    target_area: float,
    inliers: int,
    mirrored: bool,
) -> Match:
    """A ``Match`` with its figures rounded as the API shows them."""
    return Match(
        query_box=query_box,
        target_box=target_box,
        transform=[[round(float(v), 6) for v in row] for row in transform],
        query_overlap=round(query_area, 4),
        target_overlap=round(target_area, 4),
        inliers=inliers,
        mirrored=mirrored,
    )


def _pairs(
    queries: Sequence[LocalFeatures], targets: Sequence[LocalFeatures]
) -> Iterator[tuple[LocalFeatures, LocalFeatures]]:
    """The part pairs ``best_match`` tries after whole against whole, cheapest to find first:
    each part of one against the other's whole picture, as found, then mirrored; then the
    query's parts against the target's (a photo on a page against the same photo in a collage's
    cell; mirrored, they found no more copies on the tuned set)."""
    boxes = queries[2:]
    yield from ((query, targets[0]) for query in boxes)
    yield from ((queries[0], target) for target in targets[1:])
    flipped = [query.flipped for query in boxes]
    yield from ((query, targets[0]) for query in flipped)
    yield from ((mirrored, target) for mirrored in queries[1:2] for target in targets[1:])
    yield from ((query, target) for query in boxes for target in targets[1:])


def best_match(queries: Sequence[LocalFeatures], targets: Sequence[LocalFeatures]) -> Match | None:
    """Verify the query (its sets as ``query_sets`` gives them: whole as found, whole mirrored,
    its boxes) against a target (its whole picture, then its boxes): whole against whole first,
    as found, then mirrored when that fails; else the first part pair of ``_pairs`` that
    verifies. Most candidates are no copy, and each part pair costs a verification's probe: a
    collage (4 boxes) against a plain photo tries 8 part pairs, against another collage 32
    (docs/copies.md "Parts against parts")."""
    if not queries or not targets:
        return None
    # The mirrored whole is not tried once the whole as found is a copy: a full verification
    # saved a copy. Both match only a picture that is its own mirror image (with FORMAT 6: 3 of
    # the tuned copy set's 512 as-found matches, 0 of 431 held out), and there the as-found had the
    # more agreeing features, which used to pick it (docs/benchmarks.md "Copy search: cheaper").
    for query in queries[:2]:
        match = verify(query, targets[0])
        if match is not None:
            return match
    for query, target in _pairs(queries, targets):
        match = verify(query, target)
        if match is not None:
            return match
    return None


def chain(first: Match, second: Match) -> Match:
    """The match of a query with a target found through a third picture: ``first`` (query →
    it) then ``second`` (it → target). The regions are where the query's matched region lands
    inside the target's, and back; the agreeing features the fewer of the two."""
    transform = np.asarray(second.transform, np.float64) @ np.asarray(first.transform, np.float64)
    target_area, target_box = _clip(
        _mapped(transform, _corners(first.query_box)), second.target_box
    )
    query_area, query_box = _clip(
        _mapped(np.linalg.inv(transform), _corners(second.target_box)), first.query_box
    )
    return _rounded_match(
        query_box,
        target_box,
        transform,
        query_area,
        target_area,
        min(first.inliers, second.inliers),
        first.mirrored != second.mirrored,
    )
