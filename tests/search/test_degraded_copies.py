"""A half-size, blurred, JPEG-8–15 copy of a picture against a tight crop of it (docs/copies.md
"Degraded copies"): the crop's 500 strongest keypoints are fine-scale ones the blurred copy does
not have; keypoints kept spread over SIFT's octaves match."""

from __future__ import annotations

import numpy as np
import pytest

from search.copies import local
from search.copies.opencv import cv2
from search.evaluation.copies_set import crop, degraded, load_target, target_paths


def _shipped(name: str):
    paths = [p for p in target_paths("tune") if p.stem == name]
    if not paths:
        pytest.skip(f"scikit-image's {name} picture is not installed")
    return load_target(paths[0])


@pytest.fixture(scope="module")
def page():
    picture = _shipped("page")
    return crop(picture, np.random.default_rng([0, 1])), degraded(
        picture, np.random.default_rng([0, 2])
    )


def _strongest(picture) -> local.LocalFeatures:
    """The features as they were found before: the 500 strongest keypoints overall."""
    grey = local.working_picture(picture)
    sift = cv2.SIFT_create(
        nfeatures=local.MAX_KEYPOINTS, contrastThreshold=local.CONTRAST_THRESHOLD
    )
    keypoints, descriptors = sift.detectAndCompute(grey, None)
    points = np.asarray([k.pt for k in keypoints], np.float32)
    return local.LocalFeatures(
        grey.shape[1], grey.shape[0], points, local.root_descriptors(descriptors)
    )


def test_a_degraded_copy_verifies_against_a_tight_crop_both_ways(page):
    tight, small = page
    cropped, blurred = local.extract(tight), local.extract(small)
    for query, target in [(blurred, cropped), (cropped, blurred)]:
        match = local.best_match(local.query_sets([query]), [target])
        assert match is not None and match.inliers >= 2 * local.MIN_INLIERS
    # the crop's strongest keypoints alone do not find it
    assert local.verify(_strongest(small), _strongest(tight)) is None


def test_keypoints_are_kept_from_every_octave(page):
    tight, _ = page
    grey = local.working_picture(tight)
    keypoints, _ = cv2.SIFT_create(contrastThreshold=local.CONTRAST_THRESHOLD).detectAndCompute(
        grey, None
    )
    assert len(keypoints) > local.MAX_KEYPOINTS
    octave = np.asarray([k.octave & 255 for k in keypoints])
    kept = local.spread_over_octaves(keypoints, local.MAX_KEYPOINTS)
    assert len(kept) == local.MAX_KEYPOINTS == len(set(kept.tolist()))
    strongest = np.argsort([-k.response for k in keypoints])[: local.MAX_KEYPOINTS]
    for level in np.unique(octave):  # each octave keeps its own strongest, up to its share
        members = np.flatnonzero(octave == level)
        share = min(len(members), local.MAX_KEYPOINTS // len(np.unique(octave)))
        best = members[np.argsort([-keypoints[i].response for i in members])][:share]
        assert set(best.tolist()) <= set(kept.tolist())
    coarse = octave[kept] != 255
    assert coarse.sum() > (octave[strongest] != 255).sum()


def test_a_degraded_copy_is_no_copy_of_another_pictures_crop(page):
    _, small = page
    other = crop(_shipped("grass"), np.random.default_rng([0, 1]))
    query = local.query_sets([local.extract(small)])
    assert local.best_match(query, [local.extract(other)]) is None
