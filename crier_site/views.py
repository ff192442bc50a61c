"""Site-wide pages that belong to no app (home)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from corpora import selectors
from corpora.examples import get_example_corpus
from corpora.models import ImageStatus

EXAMPLE_TILES = 8


def home(request: HttpRequest) -> HttpResponse:
    corpus = get_example_corpus()
    examples = []
    if corpus is not None:
        examples = list(corpus.images.filter(status=ImageStatus.ENCODED)[:EXAMPLE_TILES])
    others = selectors.searchable_public_corpora(exclude_ids=(corpus.pk,) if corpus else ())
    context = {"corpus": corpus, "examples": examples, "public_corpora": others}
    return render(request, "home.html", context)
