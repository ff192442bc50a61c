"""Site-wide pages: home, API token, error pages, and every page for anonymous and logged-in."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from corpora.examples import seed_example_corpus
from corpora.models import Visibility
from tests.factories import make_corpus, make_record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def histogram_encoder(settings):
    settings.CRIER_ENCODER = "histogram"


def test_home_without_the_example_corpus_says_how_to_create_it(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "seed_example_corpus" in response.content.decode()


def test_home_offers_a_search_of_the_example_corpus(client):
    corpus, _, _ = seed_example_corpus()
    response = client.get(reverse("home"))
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert reverse("search:results", args=[corpus.pk]) in html
    assert '<label for="query-image">' in html
    image = response.context["examples"][0]
    assert reverse("search:similar", args=[corpus.pk, image.pk]) in html
    assert f'alt="{image.original_filename}"' in html


def test_home_lists_searchable_public_corpora(client, user, other_user):
    birds = make_corpus(user, "Birds", visibility=Visibility.PUBLIC, description="garden birds")
    make_record(birds, name="robin.png", status="encoded")
    make_corpus(other_user, "Empty public", visibility=Visibility.PUBLIC)  # nothing to search
    secret = make_corpus(other_user, "Secret", visibility=Visibility.PRIVATE)
    make_record(secret, name="s.png", status="encoded")
    html = client.get(reverse("home")).content.decode()
    assert "Public corpora" in html
    assert reverse("corpora:detail", args=[birds.pk]) in html and "garden birds" in html
    assert "by alice · 1 searchable image" in html
    assert "Empty public" not in html and "Secret" not in html


def test_pages_render_for_anonymous_and_logged_in_users(client, user):
    corpus = make_corpus(user, visibility=Visibility.PUBLIC)
    record = make_record(corpus)
    public_pages = [
        reverse("home"),
        reverse("corpora:detail", args=[corpus.pk]),
        reverse("search:results", args=[corpus.pk]),
    ]
    for url in public_pages:
        assert client.get(url).status_code == 200, url
    client.force_login(user)
    own_pages = [
        *public_pages,
        reverse("corpora:list"),
        reverse("corpora:delete", args=[corpus.pk]),
        reverse("corpora:image_delete", args=[corpus.pk, record.pk]),
        reverse("token"),
    ]
    for url in own_pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert (
            "My corpora</a>" in response.content.decode()
            and "API token</a>" in response.content.decode()
        )


def test_404_page_uses_the_site_layout(client, user):
    for logged_in in (False, True):
        if logged_in:
            client.force_login(user)
        response = client.get("/no-such-page/")
        assert response.status_code == 404
        assert "Page not found" in response.content.decode()
        assert "Skip to content" in response.content.decode()


def test_500_page_renders_without_a_request_context():
    html = render_to_string("500.html")
    assert "Something went wrong" in html and "Skip to content" in html
