"""docs/encoders.md, "Adding an encoder", followed to the letter: the doc's code block is the
whole encoder module, and the one registration line it asks for (a class added to
``registry.ENCODERS``) is all the wiring. The encoder is then offered to users, encodes uploads,
answers searches through the API, and its stored vectors are encoded again when the shared
preprocessing changes."""

from __future__ import annotations

import io
import re
import types
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from corpora.encoder_options import encoder_choices as offered_choices
from corpora.forms import CorpusForm
from corpora.models import Corpus, ImageStatus
from search.encoders import encoder_choices, encoder_names, get_encoder, registry
from search.encoding import job, preprocessing
from tests.api_helpers import as_file
from tests.factories import image_bytes, stored_vector

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[2] / "docs" / "encoders.md"
NAME = "grid-colour"


def walkthrough_module() -> types.ModuleType:
    """The module docs/encoders.md shows, run as it is written there."""
    found = re.search(r"```python encoder-walkthrough\n(.*?)```", DOC.read_text(), re.S)
    assert found, "docs/encoders.md lost its encoder walkthrough block"
    module = types.ModuleType("grid_colour")
    exec(compile(found.group(1), str(DOC), "exec"), module.__dict__)
    return module


@pytest.fixture
def grid_colour(monkeypatch):
    encoder_class = walkthrough_module().GridColourEncoder
    # The doc's registration line: the class joins ENCODERS.
    monkeypatch.setattr(registry, "ENCODERS", (*registry.ENCODERS, encoder_class))
    return encoder_class


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


COLOURS = {"red": (220, 20, 20), "green": (20, 200, 30), "blue": (20, 30, 220)}


def upload_colours(api, corpus_id: int, callbacks) -> dict[str, int]:
    files = [as_file(image_bytes(color=rgb), f"{name}.png") for name, rgb in COLOURS.items()]
    with callbacks(execute=True):  # the upload's commit enqueues the encoding job (sync here)
        response = api.post(
            reverse("api:image-list", args=[corpus_id]), {"images": files}, format="multipart"
        )
    assert response.status_code == 202, response.content
    return {item["filename"]: item["id"] for item in response.json()["accepted"]}


def search_red(api, corpus_id: int) -> dict:
    query = as_file(image_bytes(color=(230, 25, 25), size=(80, 60)), "query.png")
    response = api.post(reverse("api:search", args=[corpus_id]), {"image": query, "k": 3})
    assert response.status_code == 200, response.content
    return response.json()


def test_the_encoder_is_offered_and_prepared(grid_colour):
    assert NAME in encoder_names()
    assert (NAME, grid_colour.label) in encoder_choices()
    assert (NAME, grid_colour.label) in offered_choices()  # what corpora's forms and API offer
    assert (NAME, grid_colour.label) in CorpusForm().fields["encoder"].choices
    assert registry.is_prepared(NAME)
    recipe = registry.model_input_recipe(NAME)  # uploads are decoded once for it
    assert recipe is not None and recipe.fingerprint == get_encoder(NAME).fingerprint
    out = io.StringIO()
    call_command("encoder", "info", NAME, stdout=out)
    assert "dim          48" in out.getvalue()


def test_an_unregistered_encoder_is_refused(api):
    response = api.post(reverse("api:corpus-list"), {"name": "x", "encoder": NAME}, format="json")
    assert response.status_code == 400


def test_the_encoder_works_end_to_end(grid_colour, api, django_capture_on_commit_callbacks):
    response = api.post(
        reverse("api:corpus-list"), {"name": "grid", "encoder": NAME}, format="json"
    )
    assert response.status_code == 201, response.content
    corpus_id = response.json()["id"]
    ids = upload_colours(api, corpus_id, django_capture_on_commit_callbacks)

    corpus = Corpus.objects.get(pk=corpus_id)
    encoder = get_encoder(NAME)
    assert isinstance(encoder, grid_colour)
    records = list(corpus.images.all())
    assert {r.status for r in records} == {ImageStatus.ENCODED}
    assert {stored_vector(r).fingerprint for r in records} == {encoder.fingerprint}
    for record in records:
        vector = np.frombuffer(stored_vector(record).vector, dtype=np.float32)
        assert vector.shape == (48,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)

    hits = search_red(api, corpus_id)["results"]
    assert hits[0]["image_id"] == ids["red.png"]
    assert hits[0]["score"] > hits[1]["score"]


def test_a_preprocessing_change_encodes_its_vectors_again(
    grid_colour, api, django_capture_on_commit_callbacks, monkeypatch
):
    response = api.post(
        reverse("api:corpus-list"), {"name": "grid", "encoder": NAME}, format="json"
    )
    corpus_id = response.json()["id"]
    ids = upload_colours(api, corpus_id, django_capture_on_commit_callbacks)
    before = get_encoder(NAME).fingerprint

    monkeypatch.setattr(preprocessing, "PREPROCESSING_VERSION", 1000)
    after = get_encoder(NAME).fingerprint
    assert after != before

    outcome = job.encode_corpus(corpus_id=corpus_id)
    assert outcome.encoded == len(COLOURS)
    corpus = Corpus.objects.get(pk=corpus_id)
    assert {stored_vector(r).fingerprint for r in corpus.images.all()} == {after}
    assert search_red(api, corpus_id)["results"][0]["image_id"] == ids["red.png"]
