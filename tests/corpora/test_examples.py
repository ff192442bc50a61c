from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from corpora.examples import EXAMPLE_FILES, get_example_corpus
from corpora.models import CorpusStatus
from tests.factories import index_of

pytestmark = pytest.mark.django_db


def test_the_example_corpus_is_public_indexed_and_seeded_only_once():
    call_command("seed_example_corpus", stdout=io.StringIO())
    corpus = get_example_corpus()
    assert corpus is not None and corpus.is_public
    assert corpus.status == CorpusStatus.READY
    assert index_of(corpus).indexed_count == corpus.images.count() == len(EXAMPLE_FILES)
    assert not corpus.owner.has_usable_password() and not corpus.owner.is_active

    out = io.StringIO()
    call_command("seed_example_corpus", stdout=out)
    assert "0 added" in out.getvalue()
    assert get_example_corpus().images.count() == len(EXAMPLE_FILES)
