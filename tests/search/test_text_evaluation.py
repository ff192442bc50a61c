"""Text search's evaluation (``manage.py evaluate_text``, search/evaluation/text_search.py): its
arithmetic, that it leaves the database as it found it, and its labels cache. The figures
themselves come from the real encoder (docs/evaluation.md)."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from corpora.models import Corpus, ImageRecord
from search.encoders.histogram import HistogramEncoder
from search.evaluation.text_search import Item, ask, markdown

pytestmark = pytest.mark.django_db


def label(name: str, probability: float) -> dict:
    return {"label": name, "synonyms": [], "probability": probability}


def test_ask_ranks_with_the_search_service_and_keeps_nothing() -> None:
    items = [
        Item("a.png", [label("sandal", 0.2)], "Sandal"),
        Item("b.png", [label("sandal", 0.9)], "Sneaker"),
        Item("c.png", [label("sandal", 0.5)], "Sandal"),
        Item("d.png", [label("sneaker", 0.8)], "Sneaker"),
        Item("e.png", [label("sandal", 0.1)], "Sandal"),
    ]
    users = get_user_model().objects.count()
    sandal, sneaker, nothing = ask(items, ["sandal", "sneaker", "gown"], top=3)
    assert sandal.truths == ["Sneaker", "Sandal", "Sandal"] and sandal.matched == 4
    assert sneaker.truths == ["Sneaker"] and sneaker.matched == 1
    assert nothing.truths == [] and nothing.matched == 0
    assert not Corpus.objects.exists() and not ImageRecord.objects.exists()
    assert get_user_model().objects.count() == users


@pytest.fixture
def labelling_histogram(monkeypatch) -> list[int]:
    """The histogram encoder, claiming a classifier that sees a cat, surely in bright images."""
    calls: list[int] = []

    def classify(self, batch, top=5):
        calls.append(len(batch))
        vectors = self.encode_batch(batch)
        brightness = [float(np.mean(image)) for image in batch]
        return vectors, [[("tabby, tabby cat", min(1.0, b / 2))] for b in brightness]

    monkeypatch.setattr(HistogramEncoder, "has_classifier", lambda self: True)
    monkeypatch.setattr(HistogramEncoder, "encode_and_classify_batch", classify)
    return calls


def test_the_command_reports_the_sample_photos_and_caches_labels(
    labelling_histogram, tmp_path
) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    arguments = ["--encoder", "histogram", "--sets", "samples", "--no-progress"]
    arguments += ["--out", str(out), "--cache-dir", str(cache)]
    stdout = StringIO()
    call_command("evaluate_text", *arguments, stdout=stdout)
    photos = sum(labelling_histogram)
    assert photos >= 15  # scikit-image's sample photos, each labelled once
    results = json.loads((out / "text-search.json").read_text())
    samples = results["samples"]
    assert results["top"] == 3 and samples["photos"] == photos
    cat = next(row for row in samples["rows"] if row["photo"] == "chelsea.png")
    assert cat["query"] == "cat" and cat["matched"] == photos  # every photo "is a cat"
    found = [row for row in samples["rows"] if row["rank"] is not None]
    assert len(found) <= 3 and all(row["query"] == "cat" for row in found)
    assert samples["success"] == pytest.approx(len(found) / photos)
    assert "scikit-image sample photos" in stdout.getvalue()
    assert (out / "text-search.md").read_text() == markdown(results)
    assert not ImageRecord.objects.exists()

    call_command("evaluate_text", *arguments, stdout=StringIO())
    assert sum(labelling_histogram) == photos  # the second run read the cached labels


def test_an_encoder_without_labels_is_refused() -> None:
    with pytest.raises(CommandError, match="predicts no labels"):
        call_command("evaluate_text", "--encoder", "histogram", "--no-progress")


def test_the_fashion_mnist_table_shows_both_queries() -> None:
    row = {
        "class": "Trouser", "word": "jeans", "precision": 0.25, "precision_std": 0.1,
        "success": 0.6, "name_precision": 0.0, "name_success": 0.0,
    }  # fmt: skip
    results = {
        "encoder": "x",
        "database": "sqlite",
        "top": 3,
        "fashion_mnist": {
            "per_class": 10,
            "repeats": 2,
            "top": 3,
            "precision": 0.25,
            "success": 0.6,
            "name_precision": 0.0,
            "name_success": 0.0,
            "rows": [row],
        },
    }
    table = markdown(results)
    assert "| Trouser | jeans | 0.250 | 0.100 | 60% | 0.000 | 0% |" in table
