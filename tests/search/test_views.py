"""The search pages: results for an uploaded image, more like this, and their error cases."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from corpora.examples import seed_example_corpus
from corpora.models import Visibility
from corpora.services import update_image
from search.encoding import job
from tests.factories import image_bytes, index_of, make_corpus, make_record, photo_bytes
from tests.site.test_accessible_forms import dangling_references

pytestmark = pytest.mark.django_db

PHOTOS = ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg")


@pytest.fixture(autouse=True)
def histogram_encoder(settings):
    settings.CRIER_ENCODER = "histogram"


@pytest.fixture
def indexed_photos(user):
    """A private corpus of four photos, encoded and indexed."""
    corpus = make_corpus(user)
    for name in PHOTOS:
        make_record(corpus, data=photo_bytes(name, size=(96, 96)), name=name)
    job.encode_corpus(corpus_id=corpus.pk)
    corpus.refresh_from_db()
    assert index_of(corpus).version
    return corpus


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def test_search_with_an_image_ranks_its_twin_first(client, user, indexed_photos):
    client.force_login(user)
    query = upload("q.jpg", photo_bytes("coffee.png", size=(96, 96)))
    response = client.post(reverse("search:results", args=[indexed_photos.pk]), {"image": query})
    html = response.content.decode()
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [row.rank for row in rows] == [1, 2, 3, 4]
    assert rows[0].record.original_filename == "coffee.png"
    assert rows[0].score > 0.99 and f"{rows[0].score:.3f}" in html
    assert 'src="data:image/jpeg;base64,' in html  # the query, shown back without storing it
    # Issue 23: a strip with the query, "search again" folded, results next; sent small.
    assert html.index("Your query") < html.index("Search again") < html.index("most similar")
    assert '<details class="search-again" data-open-wide>' in html
    assert 'data-scale-side="1024"' in html
    assert reverse("corpora:image_thumbnail", args=[indexed_photos.pk, rows[0].record.pk]) in html
    # Each hit leads to its image page.
    image_page = reverse("corpora:image", args=[indexed_photos.pk, rows[0].record.pk])
    assert f'<a href="{image_page}">' in html


def test_more_like_this_leaves_the_image_itself_out(client, user, indexed_photos):
    client.force_login(user)
    record = indexed_photos.images.get(original_filename="chelsea.png")
    response = client.get(reverse("search:similar", args=[indexed_photos.pk, record.pk]))
    assert response.status_code == 200
    ids = [row.record.pk for row in response.context["rows"]]
    assert len(ids) == 3 and record.pk not in ids
    html = response.content.decode()
    assert 'alt="Query image: chelsea.png"' in html
    for pk in [record.pk, *ids]:
        assert f'<a href="{reverse("corpora:image", args=[indexed_photos.pk, pk])}">' in html


def test_search_before_indexing_says_it_is_still_indexing(client, user):
    corpus = make_corpus(user)
    record = make_record(corpus)
    client.force_login(user)
    response = client.post(
        reverse("search:results", args=[corpus.pk]), {"image": upload("q.png", image_bytes())}
    )
    assert response.status_code == 409
    assert "Still indexing" in response.content.decode()
    similar = client.get(reverse("search:similar", args=[corpus.pk, record.pk]))
    # The corpus has no index yet: that state is answered before the image is looked up (as the
    # API does), so the page says it is still indexing rather than "not encoded yet".
    assert similar.status_code == 409 and "Still indexing" in similar.content.decode()


def test_a_file_that_is_not_an_image_shows_why(client, user, indexed_photos):
    client.force_login(user)
    url = reverse("search:results", args=[indexed_photos.pk])
    response = client.post(url, {"image": upload("notes.jpg", b"plain text")})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Not an image file" in html
    # Issue 23: the refusal comes first, focused; no "no image searched yet" beside it; the
    # form waits unfolded below.
    assert html.index('role="alert" tabindex="-1" autofocus') < html.index("Your query")
    assert "No image searched yet" not in html and "Nothing was searched" in html
    assert '<details class="search-again" data-open-wide open>' in html
    assert client.post(url, {}).status_code == 400
    assert client.post(url, {"image": upload("q.png", image_bytes()), "k": "x"}).status_code == 400


def test_get_shows_the_search_form(client, user, indexed_photos):
    client.force_login(user)
    response = client.get(reverse("search:results", args=[indexed_photos.pk]))
    assert response.status_code == 200
    assert '<label for="query-image">' in response.content.decode()


def test_private_corpora_are_404_for_others_and_anonymous(client, other_user, indexed_photos):
    """A 404 for others; a signed-out visitor's GET is sent to sign in (it may be theirs)."""
    record = indexed_photos.images.first()
    for viewer in (None, other_user):
        client.logout()
        if viewer:
            client.force_login(viewer)
        query = upload("q.png", image_bytes())
        results = reverse("search:results", args=[indexed_photos.pk])
        assert client.post(results, {"image": query}).status_code == 404
        similar = reverse("search:similar", args=[indexed_photos.pk, record.pk])
        if viewer:
            assert client.get(similar).status_code == 404
        else:
            assert client.get(similar)["Location"] == f"{reverse('login')}?next={similar}"


def test_anyone_may_search_a_public_corpus(client, indexed_photos):
    indexed_photos.visibility = Visibility.PUBLIC
    indexed_photos.save()
    record = indexed_photos.images.first()
    assert (
        client.get(reverse("search:similar", args=[indexed_photos.pk, record.pk])).status_code
        == 200
    )


def test_home_page_search_of_the_example_corpus_shows_scores(client):
    corpus, _, _ = seed_example_corpus()
    query = upload("cat.jpg", photo_bytes("chelsea.png", size=(200, 150)))
    response = client.post(reverse("search:results", args=[corpus.pk]), {"image": query})
    assert response.status_code == 200
    rows = response.context["rows"]
    assert rows and rows[0].record.original_filename == "chelsea.png"
    assert f"{rows[0].score:.3f}" in response.content.decode()


def test_anonymous_page_searches_are_throttled(client, user, indexed_photos, monkeypatch):
    from django.core.cache import cache

    from search.api import AnonymousSearchThrottle

    cache.clear()
    monkeypatch.setattr(AnonymousSearchThrottle, "rate", "2/minute", raising=False)
    indexed_photos.visibility = Visibility.PUBLIC
    indexed_photos.save(update_fields=["visibility"])
    url = reverse("search:results", args=[indexed_photos.pk])
    data = photo_bytes("coffee.png", "JPEG", (96, 96))
    try:
        codes = [client.post(url, {"image": upload("q.jpg", data)}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        response = client.post(url, {"image": upload("q.jpg", data)})
        assert b"Too many searches" in response.content
        client.force_login(user)  # signed-in people are not throttled
        assert client.post(url, {"image": upload("q.jpg", data)}).status_code == 200
    finally:
        cache.clear()


# --- filters on the results pages --------------------------------------------------------------


def tag(corpus, tags: dict[str, list[str]]) -> None:
    for name, values in tags.items():
        update_image(record=corpus.images.get(original_filename=name), tags=values)


def test_an_image_search_keeps_only_the_images_the_filters_keep(client, user, indexed_photos):
    tag(indexed_photos, {"chelsea.png": ["pet", "sofa"], "astronaut.png": ["pet"]})
    client.force_login(user)
    query = upload("q.jpg", photo_bytes("coffee.png", size=(96, 96)))
    response = client.post(
        reverse("search:results", args=[indexed_photos.pk]),
        {"image": query, "tags": "Pet", "k": "10"},
    )
    assert response.status_code == 200
    names = {row.record.original_filename for row in response.context["rows"]}
    assert names == {"chelsea.png", "astronaut.png"}
    html = response.content.decode()
    # The controls are open, hold what was typed, and "Show more" would send the filters again.
    assert '<details class="filter-details" data-filter-details open>' in html
    assert 'name="tags" value="Pet"' in html and 'data-filters="tags=Pet"' in html
    assert "among the images the filters keep" in html
    both = client.post(
        reverse("search:results", args=[indexed_photos.pk]),
        {"image": upload("q.jpg", photo_bytes("coffee.png", size=(96, 96))), "tags": "pet, sofa"},
    )
    assert [row.record.original_filename for row in both.context["rows"]] == ["chelsea.png"]


def test_a_refused_filter_is_shown_on_its_field_with_what_was_typed(client, user, indexed_photos):
    client.force_login(user)
    response = client.post(
        reverse("search:results", args=[indexed_photos.pk]),
        {"image": upload("q.png", image_bytes()), "taken_after": "last summer", "camera": "Canon"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "A filter could not be used" in html
    assert 'id="filter-taken_after_error"' in html and "taken_after must be an ISO date" in html
    assert 'aria-describedby="filter-taken_after_error"' in html and 'aria-invalid="true"' in html
    assert 'value="last summer"' in html and 'name="camera" value="Canon"' in html
    assert dangling_references(html) == []


def test_more_like_this_takes_filters_and_pages_with_them(client, user, indexed_photos):
    tag(indexed_photos, {"coffee.png": ["cup"], "astronaut.png": ["cup"], "rocket.jpg": ["cup"]})
    chelsea = indexed_photos.images.get(original_filename="chelsea.png")
    client.force_login(user)
    url = reverse("search:similar", args=[indexed_photos.pk, chelsea.pk])
    response = client.get(url, {"tags": "cup", "metadata": "roll=3", "k": "1"})
    assert response.status_code == 200 and response.context["rows"] == []  # no metadata matches
    assert "among the images the filters keep" in response.content.decode()
    response = client.get(url, {"tags": "cup", "k": "1"})
    first = response.context["rows"][0].record
    html = response.content.decode()
    assert 'href="?tags=cup&amp;k=1&amp;offset=1"' in html  # "Show more" keeps the filters
    again = client.get(url, {"tags": "cup", "k": "1", "offset": "1"})
    assert again.context["rows"][0].record.pk != first.pk
    # The filter form on this page is a GET form of its own; the upload form has none.
    assert html.count('name="tags"') == 1 and "Apply the filters" in html
    assert dangling_references(html) == []


def test_more_like_this_reads_the_api_spellings_of_filters(client, user, indexed_photos):
    chelsea = indexed_photos.images.get(original_filename="chelsea.png")
    client.force_login(user)
    url = reverse("search:similar", args=[indexed_photos.pk, chelsea.pk])
    response = client.get(url + "?tags=a&tags=b&metadata.roll=3&metadata=film=x")
    form = response.context["filter_form"]
    assert form["tags"].value() == "a, b"
    assert form["metadata"].value() == "film=x\nroll=3"
    bad = client.get(url, {"metadata": "no equals sign"})
    assert bad.status_code == 400 and 'id="filter-metadata_error"' in bad.content.decode()


def test_the_home_and_corpus_search_forms_offer_folded_filters(client, user, indexed_photos):
    client.force_login(user)
    html = client.get(reverse("corpora:detail", args=[indexed_photos.pk])).content.decode()
    assert '<details class="filter-details" data-filter-details>' in html
    assert '<label for="filter-taken_after">Taken on or after</label>' in html
    assert 'type="date" name="taken_after"' in html
    assert dangling_references(html) == []
