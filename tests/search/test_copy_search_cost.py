"""What copy search saves per query (docs/benchmarks.md "Copy search: cheaper"): work it
skips, statements it no longer repeats. Each test fails if the saving is undone, or if it
changes what a search finds."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from search import services
from search.copies import local
from search.evaluation.copies_set import load_target, target_paths
from tests.search.test_copy_search import copies  # noqa: F401 (a fixture)

_verify = local.verify


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return load_target(target_paths("tune")[0])  # the astronaut


@pytest.fixture
def verify_calls(monkeypatch) -> list[tuple[local.LocalFeatures, local.LocalFeatures]]:
    calls: list[tuple[local.LocalFeatures, local.LocalFeatures]] = []

    def counted(query, target):
        calls.append((query, target))
        return _verify(query, target)

    monkeypatch.setattr(local, "verify", counted)
    return calls


def test_a_copy_found_as_it_is_is_not_verified_again_mirrored(photo, verify_calls):
    w, h = photo.size
    query = local.query_sets(local.extract_sets(photo))
    target = local.extract_sets(photo.crop((w // 5, h // 6, w, h)))
    match = local.best_match(query, target)
    assert match is not None and not match.mirrored
    assert [q.mirrored for q, _ in verify_calls] == [False]  # one verification, as found
    assert match == _verify(query[0], target[0])  # the whole as found's own match


def test_a_mirrored_copy_is_still_found_through_the_mirrored_whole(photo, verify_calls):
    query = local.query_sets(local.extract_sets(photo))
    target = local.extract_sets(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    match = local.best_match(query, target)
    assert match is not None and match.mirrored and match.inliers > 100
    assert [q.mirrored for q, _ in verify_calls] == [False, True]


def _described_reads(queries: CaptureQueriesContext) -> int:
    return sum(
        "copyfeatures" in q["sql"].lower() and "count(" in q["sql"].lower()
        for q in queries.captured_queries
    )


def test_a_search_counts_the_described_rows_once_for_both_indices(copies):  # noqa: F811
    corpus, ids = copies
    with CaptureQueriesContext(connection) as similar:
        found = services.search_similar(corpus=corpus, record_id=ids["page.png"], k=4)
    assert {hit.record.original_filename: hit.kind for hit in found.hits}["astronaut.png"] == "copy"
    with CaptureQueriesContext(connection) as by_file:
        services.search_image(corpus=corpus, image=copies_page(), k=4)
    # The parts index and the visual words index are keyed by the same statement.
    assert _described_reads(similar) == _described_reads(by_file) == 1


def copies_page() -> bytes:
    from tests.search.test_copy_search import page_with_astronaut

    return page_with_astronaut()


def _page_picture() -> Image.Image:
    import io

    from tests.search.test_copy_search import page_with_astronaut

    return Image.open(io.BytesIO(page_with_astronaut())).convert("RGB")


def test_a_file_querys_views_are_made_while_its_boxes_are_found_the_same_as_before():
    import threading

    import numpy as np

    from search.copies.candidates import QUERY_PLAN
    from search.copies.parts import picture_boxes
    from search.encoders import get_encoder

    encoder = get_encoder("histogram")
    picture = _page_picture()
    boxes = picture_boxes(picture)
    assert boxes  # the page's two photos: views of their own
    views = QUERY_PLAN.views(picture, boxes=boxes)
    expected = np.stack([encoder.preprocess(view.render(picture)) for view in views])
    sets = local.extract_sets(picture, boxes)

    def made():
        views_made, batch, features = services._query_views(picture, encoder)
        assert views_made == views and np.array_equal(batch, expected)
        return features

    def same_features(features) -> None:
        found, _ = features.result()
        assert [s.box for s in found] == [s.box for s in sets]
        assert all(
            np.array_equal(a.descriptors, b.descriptors) for a, b in zip(found, sets, strict=True)
        )

    same_features(made())  # the boxes found by a worker thread
    release = threading.Event()  # every worker thread busy: this thread finds them
    busy = [services._features_pool.submit(release.wait, 30) for _ in range(2)]
    try:
        features = made()
        assert not any(job.done() for job in busy)  # it did not wait for the pool
    finally:
        release.set()
    same_features(features)
    assert all(job.result() for job in busy)


def test_the_words_index_sorts_only_its_best_and_keeps_ties_in_image_order():
    import numpy as np

    from search.copies.words_index import build

    same = np.asarray([1, 2, 3, 4, 5, 6], np.uint16)
    rows = [(image, [np.asarray([1, 2, 3, 7, 8, 9], np.uint16)]) for image in (1, 2, 3)]
    rows += [(image, [same]) for image in range(10, 30)]  # 20 images scoring the same
    rows += [(image, [np.asarray([30 + image], np.uint16)]) for image in range(40, 60)]
    index = build(rows, 1024)
    found = index.search([same], 5)
    assert list(found) == [10, 11, 12, 13, 14]  # among equal scores, by image id
    assert list(index.search([same], 22)) == [*range(10, 30), 1, 2]
    # Each set of the query scores with its own words only: an image's score is that of the
    # query's set it matches best.
    other = np.asarray([7, 8, 9, 31], np.uint16)
    both = index.search([same, other], 25)
    assert both[1] == index.search([other], 1)[1] and both[10] == found[10]


def test_a_query_is_searched_by_the_four_corner_windows_of_the_grid_it_was():
    import numpy as np

    from search.copies.candidates import QUERY_PLAN
    from search.copies.parts import grid_boxes

    windows = [
        view.box for view in QUERY_PLAN.views(_page_picture(), boxes=[]) if view.kind == "grid"
    ]
    corners = [grid_boxes(0.6, 3)[i] for i in (0, 2, 6, 8)]
    assert np.allclose(windows, corners)  # 5 encoder passes fewer a search by file
