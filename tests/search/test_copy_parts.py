"""Copies that are parts on both sides or small (docs/copies.md "Parts against parts"): a small
picture in a collage's cell or on a page is a picture box, every box gets features, a photo on a
page is verified against its mirror image and against the same photo in a collage's cell, and
the probe of a verification holds coarse keypoints."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from search.copies import local, matching, parts
from search.copies.opencv import cv2
from search.evaluation.copies_set import copy_set, load_target, target_paths, unrelated_picture


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return load_target(target_paths("tune")[0])  # the astronaut


def _collage(cells: list[Image.Image], cell: int = 420, gap: int = 8) -> Image.Image:
    """A 2×2 collage, each picture centred in its cell on the collage's plain background."""
    side = 2 * cell + 3 * gap
    collage = Image.new("RGB", (side, side), (236, 232, 225))
    for n, picture in enumerate(cells):
        x, y = gap + (n % 2) * (cell + gap), gap + (n // 2) * (cell + gap)
        collage.paste(picture, (x + (cell - picture.width) // 2, y + (cell - picture.height) // 2))
    return collage


def _others(seed: int, count: int = 3, size: tuple[int, int] = (420, 360)) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [unrelated_picture(rng, size) for _ in range(count)]


def _page(picture: Image.Image, at: tuple[int, int], size: tuple[int, int] = (1300, 850)):
    page = Image.new("RGB", size, (255, 255, 255))
    page.paste(picture, at)
    return page


def _near(box, expected, tolerance=0.01) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(box, expected, strict=True))


def test_a_small_picture_in_a_collage_cell_is_a_picture_box(photo):
    """A 100-px picture centred in a 420-px cell: 1.2 % of the collage, under MIN_BOX_AREA."""
    small = photo.resize((100, 100))
    collage = _collage([*_others(5), small])
    side = collage.width
    left = (8 + 420 + 8 + 160) / side
    top = (8 + 420 + 8 + 160) / side
    expected = (left, top, left + 100 / side, top + 100 / side)
    boxes = parts.picture_boxes(collage)
    assert len(boxes) == 4
    assert any(_near(box, expected) for box in boxes)


def test_a_thumbnail_on_a_page_is_a_picture_box_but_no_small_box_in_a_photo(photo):
    page = _page(photo.resize((110, 110)), (400, 140))
    expected = (400 / 1300, 140 / 850, 510 / 1300, 250 / 850)
    assert any(_near(box, expected) for box in parts.picture_boxes(page))
    assert parts.picture_boxes(photo) == []


def test_every_picture_box_gets_features(photo):
    collage = _collage([*_others(6), photo.resize((400, 400))])
    boxes = parts.picture_boxes(collage)
    sets = local.extract_sets(collage, boxes)
    assert len(boxes) == 4 and [s.box for s in sets[1:]] == boxes


def test_a_photo_on_a_page_is_verified_against_its_mirror_image(photo):
    """The page's box, mirrored, against the mirrored photo: the page's whole picture holds the
    photo too small (~35 px at 320) to verify, as found or mirrored."""
    page = _page(photo.resize((220, 220)), (100, 200), size=(2000, 1300))
    query = local.query_sets(local.extract_sets(page, parts.picture_boxes(page)))
    mirrored = [local.extract(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT))]
    assert local.best_match(query[:2], mirrored) is None
    match = local.best_match(query, mirrored)
    assert match is not None and match.mirrored
    assert match.query_box == pytest.approx((0.05, 200 / 1300, 0.16, 420 / 1300), abs=0.01)


def test_a_photo_on_a_page_is_verified_against_the_same_photo_in_a_collage_cell(photo):
    """Both are small parts of large pictures: only the page's box against the collage's cell
    verifies (at the whole picture's 320 px either holds the photo at ~35 px)."""
    page = _page(photo.resize((220, 220)), (100, 200), size=(2000, 1300))
    collage = _collage([*_others(7, size=(1000, 900)), photo.resize((220, 220))], cell=1000)
    query = local.query_sets(local.extract_sets(page, parts.picture_boxes(page)))
    target = local.extract_sets(collage, parts.picture_boxes(collage))
    assert local.best_match(query, target[:1]) is None  # against the collage's whole
    assert local.best_match(query[:2], target) is None  # the page's whole against each cell
    match = local.best_match(query, target)
    assert match is not None
    side = collage.width
    cell = (8 + 1000 + 8 + 390) / side
    assert match.query_box == pytest.approx((0.05, 200 / 1300, 0.16, 420 / 1300), abs=0.01)
    assert match.target_box == pytest.approx((cell, cell, cell + 220 / side, cell + 220 / side),
                                             abs=0.01)  # fmt: skip


def test_part_pairs_find_no_copy_between_different_photos_on_pages_and_collages(photo):
    other = load_target(target_paths("tune")[1])  # the camera man
    page = _page(photo.resize((420, 420)), (60, 150))
    collage = _collage([*_others(8), other.resize((400, 400))])
    query = local.query_sets(local.extract_sets(page, parts.picture_boxes(page)))
    target = local.extract_sets(collage, parts.picture_boxes(collage))
    assert local.best_match(query, target) is None


def test_the_probe_holds_coarse_keypoints_in_proportion(photo):
    grey = local.working_picture(photo)
    keypoints, _ = cv2.SIFT_create(contrastThreshold=local.CONTRAST_THRESHOLD).detectAndCompute(
        grey, None
    )
    octave = np.asarray([k.octave & 255 for k in keypoints])
    coarse = (octave >= 1) & (octave < 128)
    kept = local.with_coarse(keypoints, local.MAX_KEYPOINTS)
    share = coarse[kept].mean()
    assert 0.1 <= share < 1
    assert coarse[kept[: local.PROBE]].mean() == pytest.approx(share, abs=0.02)
    response = np.asarray([k.response for k in keypoints])
    for group in (coarse[kept], ~coarse[kept]):  # each kind strongest first
        assert np.all(np.diff(response[kept[group]]) <= 0)


def _rocket_versions() -> dict[str, Image.Image]:
    copies = copy_set(part="tune", seed=0, distractors=0)
    rows = {
        item.version: row
        for row, item in enumerate(copies.items)
        if copies.targets[item.target].stem == "rocket"
    }
    if not rows:
        pytest.skip("scikit-image's rocket picture is not installed")
    return {version: copies.render(rows[version]) for version in ("original", "crop", "degraded")}


def test_a_copy_of_the_querys_copy_is_a_copy():
    """The degraded rocket (half size, blurred, JPEG) does not verify against a tight crop, but
    against the original, whose features verify the crop: the crop is a copy through it."""
    pictures = _rocket_versions()
    sets = {v: local.extract_sets(p, parts.picture_boxes(p)) for v, p in pictures.items()}
    query = sets["degraded"]
    assert local.best_match(local.query_sets(query), sets["crop"]) is None
    matches = matching.verify_targets(query, {1: sets["original"], 2: sets["crop"]})
    assert set(matches) == {1, 2}
    direct = local.best_match(local.query_sets(sets["original"]), sets["crop"])
    assert direct is not None and matches[2] == local.chain(matches[1], direct)
    # The crop's matched region in the query: about the crop's place in the original.
    left, top, right, bottom = matches[2].query_box
    assert (right - left) * (bottom - top) == pytest.approx(0.3, abs=0.1)


def _match(overlap: float, inliers: int = 30) -> local.Match:
    return local.Match(
        (0.0, 0.0, 1.0, 1.0), (0.0, 0.0, 1.0, 1.0), np.eye(3).tolist(), overlap, overlap, inliers
    )


def test_copies_of_a_copy_only_through_the_same_picture(monkeypatch):
    """A collage that holds the query (a part of it matches) is no pivot: a copy of its other
    cells is no copy of the query."""
    sets = {n: [local.LocalFeatures(10, 10, np.zeros((0, 2)), np.zeros((0, 128)))] for n in "qabc"}
    names = {id(s[0]): n for n, s in sets.items()}
    verdicts = {("q", "a"): _match(0.3), ("a", "b"): _match(1.0), ("q", "c"): _match(0.9, 50)}

    def fake(asked, targets):
        return verdicts.get((names[id(asked[0])], names[id(targets[0])]))

    monkeypatch.setattr(matching, "best_match", fake)
    monkeypatch.setattr(matching, "query_sets", lambda found: list(found))
    targets = {1: sets["a"], 2: sets["b"], 3: sets["c"]}
    assert set(matching.verify_targets(sets["q"], targets)) == {1, 3}  # c is no pivot to b
    verdicts[("c", "b")] = _match(1.0, 20)
    found = matching.verify_targets(sets["q"], targets)
    assert set(found) == {1, 2, 3} and found[2].inliers == 20


def test_a_chained_match_maps_through_the_middle_picture():
    # query → middle: the query is the middle's left half; middle → target: the target is
    # the middle's top half, so the query's top half is the target's left half.
    whole = (0.0, 0.0, 1.0, 1.0)
    first = local.Match(whole, (0, 0, 0.5, 1), [[0.5, 0, 0], [0, 1, 0], [0, 0, 1]], 1.0, 0.5, 40)
    second = local.Match((0, 0, 1, 0.5), whole, [[1, 0, 0], [0, 2, 0], [0, 0, 1]], 0.5, 1.0, 25)
    chained = local.chain(first, second)
    assert chained.query_box == pytest.approx((0.0, 0.0, 1.0, 0.5))
    assert chained.target_box == pytest.approx((0.0, 0.0, 0.5, 1.0))
    assert chained.query_overlap == pytest.approx(0.5) and chained.target_overlap == 0.5
    assert chained.inliers == 25 and not chained.mirrored
