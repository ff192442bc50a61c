"""``manage.py evaluate`` end to end on a tiny generated ImageFolder, with the histogram."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from search.encoders.histogram import HistogramEncoder

COLOURS = {"red": (200, 30, 30), "green": (30, 180, 40), "blue": (30, 40, 200)}


def make_image_folder(root: Path, *, side: int = 32) -> Path:
    """Three classes (red, green, blue) of six noisy squares each, one subfolder per class."""
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(6):
            noise = rng.integers(-25, 25, size=(side, side, 3))
            pixels = np.clip(np.array(colour) + noise + 3 * i, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return make_image_folder(tmp_path / "tiny")


@pytest.fixture
def encode_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    original = HistogramEncoder.encode_batch

    def counting(self, batch):
        calls.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(HistogramEncoder, "encode_batch", counting)
    return calls


def _evaluate(image_folder: Path, out: Path, cache: Path) -> str:
    stdout = StringIO()
    call_command(
        "evaluate", "--dataset", str(image_folder), "--encoders", "histogram",
        "--index", "exact,scann", "--k", "5", "--out", str(out), "--cache-dir", str(cache),
        "--postprocess", "none,centre", "--no-progress", stdout=stdout,
    )  # fmt: skip
    return stdout.getvalue()


def test_evaluate_writes_report_and_reuses_vectors(image_folder, tmp_path, encode_calls):
    out, cache = tmp_path / "out", tmp_path / "cache"
    printed = _evaluate(image_folder, out, cache)
    assert sum(encode_calls) == 18  # every image encoded exactly once for all four runs

    results = json.loads((out / "results.json").read_text())
    assert results["dataset"]["images"] == 18
    assert results["dataset"]["queries"] == 3  # one per class (5% of 6, at least one)
    runs = results["runs"]
    assert {(r["index"], r["postprocess"]) for r in runs} == {
        ("exact", "none"), ("scann", "none"), ("exact", "centre"), ("scann", "centre"),
    }  # fmt: skip
    for run in runs:
        for name in ("map", "mar", "precision", "recall"):
            values = run["metrics"][name]
            assert len(values) == 5
            assert all(0.0 <= v <= 1.0 for v in values)
        # distinct solid colours: the histogram finds the query's class first
        assert run["metrics"]["map"][0] == 1.0
    for name in ("map_at_k.png", "mar_at_k.png"):
        with Image.open(out / name) as plot:
            assert plot.size[0] > 100
    table = (out / "results.md").read_text()
    assert "| histogram |" in table and "mAP@5" in table
    assert "mAP@5" in printed

    encode_calls.clear()
    _evaluate(image_folder, tmp_path / "out2", cache)
    assert encode_calls == []  # second run: vectors from the cache
    again = json.loads((tmp_path / "out2" / "results.json").read_text())
    assert all(run["vectors_cached"] for run in again["runs"])
    assert [r["metrics"] for r in again["runs"]] == [r["metrics"] for r in runs]


def test_evaluate_rejects_unknown_names(image_folder, tmp_path):
    with pytest.raises(CommandError):
        call_command("evaluate", "--dataset", str(image_folder), "--encoders", "nope")
    with pytest.raises(CommandError):
        call_command("evaluate", "--dataset", str(image_folder), "--encoders", "histogram",
                     "--index", "faiss")  # fmt: skip
    with pytest.raises(CommandError):
        call_command("evaluate", "--dataset", str(tmp_path / "missing"), "--encoders", "histogram")
