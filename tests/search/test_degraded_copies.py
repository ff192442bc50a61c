"""A half-size, blurred, JPEG-8–15 copy of a picture against a tight crop of it (docs/copies.md
"Degraded copies"): the crop's 500 strongest keypoints are fine-scale ones the blurred copy does
not have; with coarse keypoints kept (``local.with_coarse``) they match."""

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


def test_the_strongest_keypoints_are_kept_with_coarse_ones(page):
    tight, _ = page
    grey = local.working_picture(tight)
    sift = cv2.SIFT_create(contrastThreshold=local.CONTRAST_THRESHOLD)
    keypoints, _ = sift.detectAndCompute(grey, None)
    assert len(keypoints) > local.MAX_KEYPOINTS
    octave = np.asarray([k.octave & 255 for k in keypoints])
    coarse = (octave >= 1) & (octave < 128)  # half the picture's size and coarser
    strongest = np.argsort([-k.response for k in keypoints], kind="stable")
    assert coarse[strongest[: local.MAX_KEYPOINTS]].sum() < local.COARSE_KEYPOINTS
    kept = local.with_coarse(keypoints, local.MAX_KEYPOINTS)
    assert len(kept) == local.MAX_KEYPOINTS == len(set(kept.tolist()))
    assert coarse[kept].sum() == min(local.COARSE_KEYPOINTS, coarse.sum())  # every one here
    rank = {int(i): n for n, i in enumerate(strongest)}
    for group in (coarse[kept], ~coarse[kept]):  # each kind strongest first, interleaved
        assert [rank[int(i)] for i in kept[group]] == sorted(rank[int(i)] for i in kept[group])
    fine = [i for i in strongest if not coarse[i]][: local.MAX_KEYPOINTS - coarse[kept].sum()]
    assert set(fine) <= set(kept.tolist())


def test_a_degraded_copy_is_no_copy_of_another_pictures_crop(page):
    _, small = page
    other = crop(_shipped("grass"), np.random.default_rng([0, 1]))
    query = local.query_sets([local.extract(small)])
    assert local.best_match(query, [local.extract(other)]) is None
