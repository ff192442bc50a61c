"""The copy-detection set and ``manage.py evaluate --dataset copies`` (histogram encoder, one
target: fast; the Lite0 figures are in docs/evaluation.md)."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from search.evaluation.copies_set import DISTRACTOR, VERSIONS, copy_set
from tests.search.test_evaluation_command import COLOURS, make_image_folder


def test_copy_set_is_deterministic_and_seeded():
    first, again = (
        copy_set(seed=0, targets=1, distractors=2),
        copy_set(seed=0, targets=1, distractors=2),
    )
    other = copy_set(seed=1, targets=1, distractors=2)
    assert [item.version for item in first.items] == [*VERSIONS, DISTRACTOR, DISTRACTOR]
    for row in (2, 3, 4, len(first.items) - 1):  # collage, inset, screenshot, a distractor
        a, b, c = (np.asarray(s.render(row)) for s in (first, again, other))
        assert np.array_equal(a, b)
        assert a.shape != c.shape or not np.array_equal(a, c)


def test_parts_use_different_pictures():
    tune = {p.name for p in copy_set(part="tune").targets}
    heldout = {p.name for p in copy_set(part="heldout").targets}
    assert tune and heldout and not tune & heldout


def test_evaluate_copies_reports_every_version_and_mode(tmp_path):
    stdout = StringIO()
    call_command(
        "evaluate", "--dataset", "copies", "--encoders", "histogram", "--limit-per-class", "1",
        "--distractors", "3", "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c"),
        "--no-progress", stdout=stdout,
    )  # fmt: skip
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["dataset"]["images"] == len(VERSIONS) + 3
    assert results["dataset"]["queries"] == len(VERSIONS)
    for mode in ("global", "candidates", "verified"):
        assert set(results["ap"][mode]) == {*VERSIONS, "all"}
        assert all(0.0 <= v <= 1.0 for v in results["ap"][mode].values())
    # Local features find the target's own versions before the distractors for most queries.
    assert results["ap"]["verified"]["all"] > 0.8
    assert "verified AP@8" in stdout.getvalue()


def test_near_duplicates_measured_as_copy_search(tmp_path, monkeypatch):
    from search.evaluation import near_duplicates

    photos = near_duplicates.find_photos()[:2]
    monkeypatch.setattr(near_duplicates, "find_photos", lambda: photos)
    call_command(
        "evaluate", "--dataset", "near-duplicates", "--copies", "--encoders", "histogram",
        "--k", "5", "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c"),
        "--no-progress", stdout=StringIO(),
    )  # fmt: skip
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    edits = [edit.__name__ for edit in near_duplicates.EDITS]
    assert results["dataset"]["versions"] == edits and results["dataset"]["queries"] == 14
    assert set(results["ap"]["verified"]) == {*edits, "all"}
    assert results["ap"]["verified"]["all"] >= results["ap"]["global"]["all"]


def test_a_class_split_set_measured_as_copy_search(tmp_path):
    """``--copies`` on an image folder (as on fashion-mnist): the plain evaluation's splits,
    global = its exact index's mAP@k, plus the candidates and verified columns."""
    folder = make_image_folder(tmp_path / "tiny", side=48)
    common = ["--dataset", str(folder), "--encoders", "histogram", "--k", "5", "--repeats", "2",
              "--cache-dir", str(tmp_path / "c"), "--no-progress"]  # fmt: skip
    call_command(
        "evaluate", *common, "--copies", "--out", str(tmp_path / "copies"), stdout=StringIO()
    )
    call_command(
        "evaluate", *common, "--index", "exact", "--out", str(tmp_path / "plain"),
        stdout=StringIO(),
    )  # fmt: skip
    copies = json.loads((tmp_path / "copies" / "results.json").read_text())
    plain = json.loads((tmp_path / "plain" / "results.json").read_text())
    assert copies["dataset"]["splits"] == 2 and copies["dataset"]["seeds"] == [0, 1]
    assert copies["dataset"]["images"] == 6 * len(COLOURS)
    assert copies["map"]["global"] == pytest.approx(plain["runs"][0]["metrics"]["map"][4])
    assert set(copies["map"]) == {"global", "candidates", "verified"}
    assert all(0.0 <= v <= 1.0 for v in copies["map"].values())
    assert copies["sizes"]["query_views_per_query"] >= 5  # whole + 2×2 grid at least


def test_rank_split_candidates_see_parts_and_verified_copies_come_first():
    from search.evaluation.copies_split import map_at_k, rank_split
    from search.evaluation.splits import Split

    labels = np.asarray([0, 0, 1, 1])
    split = Split(index_rows=np.asarray([1, 2, 3]), query_rows=np.asarray([0]),
                  queries_indexed=False)  # fmt: skip
    whole = np.eye(4, dtype=np.float32)
    whole[0] = [0.6, 0.8, 0.0, 0.0]  # the query is most like row 1 (its class) as a whole
    part = [0.0, 0.0, 1.0, 0.0]  # a window of the query, most like row 2
    views = {0: (np.asarray([whole[0], part], dtype=np.float32), np.asarray([False, True]))}
    indexed = (whole, np.arange(4), np.ones(4, dtype=bool))  # every view is a whole picture
    ranked = rank_split(
        split, global_vectors=whole, index_views=indexed, query_views=views,
        verify=lambda row, target: target == 3, k=3, depth=2,
    )  # fmt: skip
    assert ranked["global"] == [[1, 2, 3]]
    assert ranked["candidates"][0][:2] == [2, 1]  # 1.0 - 0.1 > 0.8: the part's match outranks
    assert ranked["verified"][0][:2] == [2, 1]  # row 3 is a copy but not among the first 2
    again = rank_split(
        split, global_vectors=whole, index_views=indexed, query_views=views,
        verify=lambda row, target: target == 1, k=3, depth=2,
    )  # fmt: skip
    assert again["verified"][0][:2] == [1, 2]  # the verified copy moves first
    penalised = rank_split(
        split, global_vectors=whole, index_views=indexed, query_views=views,
        verify=lambda row, target: False, k=3, depth=2, part_penalty=0.3,
    )  # fmt: skip
    assert penalised["candidates"][0][:2] == [1, 2]  # 1.0 - 0.3 < 0.8: the whole wins
    assert map_at_k(ranked["global"], labels, split, 3) == 1.0
    assert map_at_k(ranked["candidates"], labels, split, 3) == 0.5
