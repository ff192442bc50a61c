"""The copy-detection set and ``manage.py evaluate --dataset copies`` (histogram encoder, one
target: fast; the Lite0 figures are in docs/evaluation.md)."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
from django.core.management import call_command

from search.evaluation.copies_set import DISTRACTOR, VERSIONS, copy_set


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
