"""The text search pages: the text box on the home and corpus pages, and the results page, for
one corpus (/search/<id>/text/) or every corpus the visitor may see (/search/text/), with
filters and paging."""

from __future__ import annotations

import pytest
from django.urls import reverse

from corpora.models import Visibility
from corpora.services import update_image
from tests.factories import image_bytes, make_corpus, make_record
from tests.site.test_accessible_forms import dangling_references

pytestmark = pytest.mark.django_db


def photo(corpus, name: str, *, tags=(), caption: str = "", **fields):
    record = make_record(corpus, name=name, **fields)
    return update_image(record=record, tags=list(tags), caption=caption)


@pytest.fixture
def corpora(user, other_user):
    mine = make_corpus(user, name="mine")
    theirs_public = make_corpus(other_user, name="shared", visibility=Visibility.PUBLIC)
    theirs_private = make_corpus(other_user, name="secret")
    return {
        "beach": photo(mine, "beach.png", tags=["beach", "sunset"], caption="At the pier"),
        "dog": photo(mine, "dog.png", tags=["dog"], metadata={"roll": 3}),
        "public": photo(theirs_public, "beach-day.png", tags=["beach"]),
        "private": photo(theirs_private, "beach-secret.png", tags=["beach"]),
    }


def names(response) -> list[str]:
    return [hit.record.original_filename for hit in response.context["result"].hits]


def test_one_corpus_is_searched_by_words(client, user, corpora):
    client.force_login(user)
    url = reverse("search:corpus_text", args=[corpora["beach"].corpus_id])
    response = client.get(url, {"q": "beach"})
    assert response.status_code == 200
    assert names(response) == ["beach.png"]
    html = response.content.decode()
    assert "<span data-results-count>1</span> image matching “beach”" in html
    image_page = reverse("corpora:image", args=[corpora["beach"].corpus_id, corpora["beach"].pk])
    assert f'<a href="{image_page}">' in html and "Found in tags, filename" in html
    assert 'value="beach"' in html  # the box keeps the words
    assert dangling_references(html) == []


def test_every_corpus_one_may_see_is_searched_from_the_home_page(client, user, corpora):
    client.force_login(user)
    response = client.get(reverse("search:text"), {"q": "beach"})
    assert sorted(names(response)) == ["beach-day.png", "beach.png"]  # not the private one
    assert "in <a href=" in response.content.decode()  # each hit says its corpus
    client.logout()
    assert names(client.get(reverse("search:text"), {"q": "beach"})) == ["beach-day.png"]


def test_a_private_corpus_is_not_found_for_others(client, other_user, corpora):
    client.force_login(other_user)
    url = reverse("search:corpus_text", args=[corpora["beach"].corpus_id])
    assert client.get(url, {"q": "beach"}).status_code == 404


def test_filters_narrow_the_words_results(client, user, corpora):
    client.force_login(user)
    url = reverse("search:text")
    both = client.get(url, {"q": "beach", "tags": "sunset"})
    assert names(both) == ["beach.png"]
    html = both.content.decode()
    assert "among the images the filters keep" in html and 'name="tags" value="sunset"' in html
    by_metadata = client.get(url, {"q": "dog", "metadata": "roll=3"})
    assert names(by_metadata) == ["dog.png"]
    assert names(client.get(url, {"q": "dog", "metadata": "roll=4"})) == []


def test_a_refused_filter_or_query_is_shown_on_its_field(client, user, corpora):
    client.force_login(user)
    url = reverse("search:text")
    bad_filter = client.get(url, {"q": "beach", "taken_before": "soon"})
    assert bad_filter.status_code == 400
    html = bad_filter.content.decode()
    assert 'id="text-filter-taken_before_error"' in html and 'value="soon"' in html
    assert 'value="beach"' in html and dangling_references(html) == []
    backwards = client.get(
        url, {"q": "beach", "taken_after": "2024-08-01", "taken_before": "2024-07-01"}
    )
    assert backwards.status_code == 400
    html = backwards.content.decode()
    assert 'id="text-filter-taken_before_error"' in html and "earlier than taken_after" in html
    empty = client.get(url, {"q": "  "})
    assert empty.status_code == 400
    html = empty.content.decode()
    assert 'id="q-error"' in html and "Type a word or a few" in html
    assert 'aria-describedby="q-help q-error"' in html and dangling_references(html) == []


def test_words_no_image_holds_are_named_above_the_partial_hits(client, user):
    corpus = make_corpus(user, "park")
    photo(corpus, "both.jpg", tags=["dog", "red"])
    photo(corpus, "dog.jpg", tags=["dog"])
    client.force_login(user)
    response = client.get(reverse("search:corpus_text", args=[corpus.pk]), {"q": "red dog grass"})
    assert response.status_code == 200
    html = response.content.decode()
    assert names(response) == ["both.jpg", "dog.jpg"]
    assert "No image has “grass”" in html and "these hold the other words only" in html
    assert "Has “dog” only" in html and "Has “red”, “dog” only" in html
    nothing = client.get(reverse("search:corpus_text", args=[corpus.pk]), {"q": "grass lawn"})
    assert "No image has “grass” or “lawn”: try other words" in nothing.content.decode()
    everything = client.get(reverse("search:corpus_text", args=[corpus.pk]), {"q": "dog"})
    assert "data-unmatched-words" not in everything.content.decode()
    assert "data-matched-words" not in everything.content.decode()


def test_results_are_paged_with_show_more(client, user):
    corpus = make_corpus(user, name="many")
    for n in range(12):
        photo(corpus, f"cat-{n:02}.png", tags=["cat"], data=image_bytes(seed=n))
    client.force_login(user)
    url = reverse("search:corpus_text", args=[corpus.pk])
    first = client.get(url, {"q": "cat", "k": "10", "tags": "cat"})
    assert len(names(first)) == 10
    html = first.content.decode()
    assert 'href="?q=cat&amp;k=10&amp;tags=cat&amp;offset=10"' in html
    second = client.get(url, {"q": "cat", "k": "10", "tags": "cat", "offset": "10"})
    assert len(names(second)) == 2 and not set(names(first)) & set(names(second))
    assert "Starting at #11" in second.content.decode()
    assert "data-show-more" not in second.content.decode()


def test_the_empty_page_shows_the_box_only(client):
    response = client.get(reverse("search:text"))
    assert response.status_code == 200 and response.context["result"] is None
    assert '<label for="q">Words to search for</label>' in response.content.decode()


def test_the_home_and_corpus_pages_have_a_text_box(client, user, corpora):
    html = client.get(reverse("home")).content.decode()
    assert f'action="{reverse("search:text")}"' in html and "Search by words" in html
    assert dangling_references(html) == []
    client.force_login(user)
    corpus_id = corpora["beach"].corpus_id
    html = client.get(reverse("corpora:detail", args=[corpus_id])).content.decode()
    assert f'action="{reverse("search:corpus_text", args=[corpus_id])}"' in html
    assert '<label for="text-q">Words to search for</label>' in html
    assert dangling_references(html) == []
