"""Copy detection's pure parts: picture boxes, views, local features and their verification."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from search.copies import local
from search.copies.candidates import best_per_image
from search.copies.parts import View, grid_boxes, picture_boxes
from search.evaluation.copies_set import load_target, target_paths, unrelated_picture


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return load_target(target_paths("tune")[0])  # the astronaut


def _page_with(photo: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    page = Image.new("RGB", (1000, 800), (255, 255, 255))
    page.paste(photo.resize((box[2] - box[0], box[3] - box[1])), box[:2])
    return page


def test_picture_boxes_find_a_photo_on_a_page(photo):
    boxes = picture_boxes(_page_with(photo, (300, 200, 600, 500)))
    assert boxes
    left, top, right, bottom = boxes[0]
    assert left == pytest.approx(0.3, abs=0.02) and right == pytest.approx(0.6, abs=0.02)
    assert top == pytest.approx(0.25, abs=0.02) and bottom == pytest.approx(0.625, abs=0.02)


def _near(box, expected, tolerance=0.02) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(box, expected, strict=True))


def test_picture_boxes_find_an_inset_on_another_picture(photo):
    """No plain background: the inset is found by the straight colour edges of its sides."""
    canvas = unrelated_picture(np.random.default_rng(1), (1000, 750))
    canvas.paste(photo.resize((300, 300)), (420, 240))
    expected = (0.42, 0.32, 0.72, 0.72)
    assert any(_near(box, expected) for box in picture_boxes(canvas))


def test_picture_boxes_find_each_cell_of_a_collage_not_two_together(photo):
    rng = np.random.default_rng(3)
    cell, gap = 400, 6  # a narrow gutter: a couple of pixels where boxes are looked for
    side = 2 * cell + 3 * gap
    collage = Image.new("RGB", (side, side), (235, 235, 228))
    for n in range(4):
        x, y = gap + (n % 2) * (cell + gap), gap + (n // 2) * (cell + gap)
        picture = photo.resize((cell, cell)) if n == 3 else unrelated_picture(rng, (cell, cell))
        collage.paste(picture, (x, y))
    boxes = picture_boxes(collage)
    cells = [
        ((gap + (n % 2) * (cell + gap)) / side, (gap + (n // 2) * (cell + gap)) / side)
        for n in range(4)
    ]
    expected = [(x, y, x + cell / side, y + cell / side) for x, y in cells]
    assert all(any(_near(box, e) for box in boxes) for e in expected)
    assert len(boxes) == 4  # no box of two cells


def test_no_boxes_in_a_plain_photo_or_a_flat_picture(photo):
    assert picture_boxes(photo) == []
    assert picture_boxes(Image.new("RGB", (400, 300), (90, 90, 90))) == []


def test_views_render_boxes_turns_and_mirror(photo):
    w, h = photo.size
    assert View("box", box=(0.0, 0.0, 0.5, 0.5)).render(photo).size == (w // 2, h // 2)
    turned = View("turn", turn=1).render(photo)
    assert turned.size == (h, w)
    mirrored = np.asarray(View("mirror", mirrored=True).render(photo))
    assert np.array_equal(mirrored, np.asarray(photo)[:, ::-1])
    assert len(grid_boxes(0.6, 3)) == 9


def test_best_per_image_keeps_each_images_best_view_and_penalises_parts():
    owners = np.array([1, 1, 2, 2])
    scores = np.array([0.5, 0.9, 0.8, 0.7])
    penalised = np.array([False, True, False, True])
    assert best_per_image(owners, scores) == pytest.approx({1: 0.9, 2: 0.8})
    assert best_per_image(owners, scores, penalised=penalised, part_penalty=0.2) == pytest.approx(
        {1: 0.7, 2: 0.8}
    )


def test_local_features_round_trip_compactly(photo):
    features = local.extract(photo)
    assert 50 < len(features) <= local.MAX_KEYPOINTS
    assert features.descriptors.dtype == np.uint8 and features.descriptors.max() <= 15
    blob = features.to_bytes()
    assert len(blob) == 16 + 68 * len(features)  # header, then 4 + 64 bytes a keypoint
    again = local.LocalFeatures.from_bytes(blob)
    assert np.array_equal(again.descriptors, features.descriptors)
    assert np.abs(again.points - features.points).max() <= 0.125


def test_a_whole_picture_is_described_smaller_than_its_boxes(photo):
    page = _page_with(photo, (100, 100, 800, 700))  # a 700×600 photo on a 1000×800 page
    whole, box = local.extract_sets(page, [(0.1, 0.125, 0.8, 0.875)])
    assert (whole.width, whole.height) == (local.SIDE, 256)  # 1000×800 at 320 px
    assert (box.width, box.height) == (local.BOX_SIDE, 549)  # 700×600 at 640 px
    # The photo is verified through the page's box at full detail.
    assert local.best_match(local.query_sets([local.extract(photo)]), [whole, box]) is not None


def test_verify_finds_the_photo_inside_a_page_and_where(photo):
    page = _page_with(photo, (300, 200, 600, 500))
    match = local.verify(local.extract(photo), local.extract(page))
    assert match is not None and match.inliers >= local.MIN_INLIERS
    assert not match.mirrored
    assert match.query_box == pytest.approx((0, 0, 1, 1), abs=0.02)
    assert match.target_box == pytest.approx((0.3, 0.25, 0.6, 0.625), abs=0.02)
    assert match.query_overlap == pytest.approx(1.0, abs=0.03)
    assert match.target_overlap == pytest.approx(0.3 * 0.375, abs=0.02)
    # The transform maps the query's corners onto the box.
    corner = np.asarray(match.transform) @ np.array([1.0, 1.0, 1.0])
    assert corner[:2] / corner[2] == pytest.approx((0.6, 0.625), abs=0.02)


def test_verify_finds_a_mirror_image_only_through_mirrored_features(photo):
    mirrored = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    target = [local.extract(mirrored)]
    found = local.extract(photo)
    unmirrored = local.best_match([found], target)
    assert unmirrored is None or unmirrored.inliers < 30  # some self-similar structure at most
    match = local.best_match(local.query_sets([found]), target)
    assert match is not None and match.mirrored and match.inliers > 100
    # Query fraction x lands at 1 - x in the target.
    mapped = np.asarray(match.transform) @ np.array([0.2, 0.5, 1.0])
    assert mapped[:2] / mapped[2] == pytest.approx((0.8, 0.5), abs=0.02)


def test_a_photo_on_a_page_is_verified_through_its_own_box(photo):
    page = _page_with(photo.resize((256, 256)), (700, 500, 860, 660))
    sets = local.extract_sets(page, picture_boxes(page))
    assert len(sets) == 2 and sets[1].box == pytest.approx((0.7, 0.625, 0.86, 0.825), abs=0.01)
    again = local.unpack_sets(local.pack_sets(sets))
    assert np.allclose([s.box for s in again], [s.box for s in sets], atol=1e-4)
    match = local.best_match(local.query_sets([local.extract(photo)]), again)
    assert match is not None
    assert match.target_box == pytest.approx((0.7, 0.625, 0.86, 0.825), abs=0.02)
    assert match.target_overlap == pytest.approx(0.16 * 0.2, abs=0.01)


def test_ratio_matches_are_exactly_a_brute_force_matchers(photo):
    import cv2

    page = _page_with(photo.resize((300, 300)), (300, 200, 600, 500))
    other = load_target(target_paths("tune")[2])  # another photo
    for query, target in [
        (local.extract(photo), local.extract(page)),
        (local.extract(photo).mirrored_copy(), local.extract(photo)),
        (local.extract(photo), local.extract(other)),
    ]:
        pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(
            query.descriptors.astype(np.float32), target.descriptors.astype(np.float32), k=2
        )
        good = [m for m, n in pairs if m.distance < local.RATIO * n.distance]
        q, t = local._ratio_matches(query, target)
        assert len(good) > 0 and len(q) == len(good)
        assert np.array_equal(q, query.points[[m.queryIdx for m in good]])
        assert np.array_equal(t, target.points[[m.trainIdx for m in good]])
        # In two parts (the probe's rows, then the rest): the same pairs.
        head, rest = (local._ratio_matches(query, target, r) for r in (slice(50), slice(50, None)))
        assert np.array_equal(np.concatenate([head[0], rest[0]]), q)
        assert np.array_equal(np.concatenate([head[1], rest[1]]), t)


def test_the_parts_index_ranks_images_by_their_best_box():
    from search.copies.parts_index import PartsIndex

    vectors = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0]]  # image 9 has two boxes
    index = PartsIndex(owners=np.asarray([3, 5, 7, 9, 9]), vectors=vectors)
    queries = np.asarray([[0.9, 0.1, 0, 0.5], [0, 0.5, 0.2, 0]], dtype=np.float32)
    found = index.search(queries, 3)
    assert list(found) == [3, 9, 5]  # 0.9 each: ties by image id; then 0.5 (5, best of two)
    assert found == pytest.approx({3: 0.9, 9: 0.9, 5: 0.5})
    assert PartsIndex(np.zeros(0, np.int64), np.zeros((0, 4), np.float32)).search(queries, 3) == {}


def test_the_parts_index_penalises_views_in_one_product_as_two_searches_did():
    from search.copies.parts_index import PartsIndex

    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((300, 16)).astype(np.float32)
    owners = np.sort(rng.integers(0, 120, 300))
    index = PartsIndex(owners=owners, vectors=vectors)
    queries = rng.standard_normal((11, 16)).astype(np.float32)
    grid = np.arange(11) >= 2  # the whole and a box count in full, 9 windows 0.1 less
    for n in (5, 20, 200):
        merged: dict[int, float] = {}  # the two searches and their merge, as before
        for rows, less in ((~grid, 0.0), (grid, 0.1)):
            for image, score in index.search(queries[rows], n).items():
                merged[image] = max(score - less, merged.get(image, -np.inf))
        expected = sorted(merged, key=lambda i: (-merged[i], i))[:n]
        found = index.search(queries, n, less=np.where(grid, 0.1, 0.0))
        assert list(found) == expected
        assert found == pytest.approx({i: merged[i] for i in expected}, abs=1e-6)
    assert index.search(queries, 5) == index.search(queries, 5, less=np.zeros(11))


def test_verify_rejects_unrelated_and_textureless_pictures(photo):
    rng = np.random.default_rng(3)
    unrelated = local.extract(unrelated_picture(rng, (600, 450)))
    assert local.verify(local.extract(photo), unrelated) is None
    flat = local.extract(Image.new("RGB", (300, 300), (200, 40, 40)))
    assert len(flat) == 0
    assert local.verify(flat, local.extract(photo)) is None
    assert local.LocalFeatures.from_bytes(flat.to_bytes()).descriptors.shape == (0, 128)


def test_copies_come_first_each_kind_in_order(photo):
    from search.copies.matching import copies_first, match_json, verify_targets

    page = _page_with(photo, (300, 200, 600, 500))
    flat = Image.new("RGB", (200, 200), (90, 90, 90))
    rng = np.random.default_rng(5)
    targets = {
        1: local.extract_sets(unrelated_picture(rng, (500, 400))),
        2: local.extract_sets(page, picture_boxes(page)),
        3: local.extract_sets(flat),
        4: [],  # no stored features at all
    }
    matches = verify_targets(local.extract_sets(photo), targets)
    assert set(matches) == {2}
    assert copies_first([1, 2, 3, 4], matches, lambda i: i) == [2, 1, 3, 4]
    assert match_json(None) == {"kind": "similar"}
    shown = match_json(matches[2])
    assert shown["kind"] == "copy" and len(shown["target_box"]) == 4
    assert shown["inliers"] == matches[2].inliers and not shown["mirrored"]


def test_verifying_in_two_threads_finds_the_same_matches(photo):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from search.copies.matching import verify_targets

    rng = np.random.default_rng(7)
    page = _page_with(photo, (300, 200, 600, 500))
    w, h = photo.size
    targets = {
        1: local.extract_sets(unrelated_picture(rng, (500, 400))),
        2: local.extract_sets(page, picture_boxes(page)),
        3: local.extract_sets(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        4: local.extract_sets(photo.crop((w // 4, h // 4, w, h))),
        5: local.extract_sets(unrelated_picture(rng, (400, 500))),
        6: [],
    }
    query = local.extract_sets(photo)
    alone = verify_targets(query, targets)
    assert set(alone) == {2, 3, 4}  # copies on both threads' shares (every other target)
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert verify_targets(query, targets, pool=pool) == alone
        # With the pool's thread busy elsewhere, this thread verifies every target itself.
        release = threading.Event()
        busy = pool.submit(release.wait, 30)
        assert verify_targets(query, targets, pool=pool) == alone
        assert not busy.done()  # it did not wait for the pool
        release.set()


def test_a_shared_caption_or_flat_label_does_not_make_a_copy():
    from search.evaluation.near_duplicates import find_photos, overlay, render

    first, second = (render(path, overlay) for path in find_photos()[:2])  # same red box + text
    assert all(
        np.asarray(first.crop(_pixels(first, box))).std() > 12 for box in picture_boxes(first)
    )  # the flat red box is no picture box
    assert (
        local.best_match(local.query_sets(local.extract_sets(first)), [local.extract(second)])
        is None
    )


def _pixels(picture, box):
    w, h = picture.size
    return round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)


def test_opencv_runs_its_blas_on_one_thread():
    import ctypes
    import importlib
    from pathlib import Path

    from search.copies.opencv import cv2

    assert cv2.gemm is not None  # the first use imports OpenCV and sets its OpenBLAS
    wheel = Path(importlib.import_module("cv2").__file__).resolve().parent.parent
    (library,) = (wheel / "opencv_python_headless.libs").glob("libopenblas*.so*")
    assert ctypes.CDLL(str(library)).openblas_get_num_threads() == 1
