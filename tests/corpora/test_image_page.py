"""The image page (/corpora/<id>/images/<image_id>/): the picture, its facts, labels, tags,
caption and metadata for everyone who may read the corpus, and the owner's form that saves
tags, caption and metadata through the API's service."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from corpora import services
from corpora.models import ImageStatus, Visibility
from tests.factories import make_corpus, make_record, store_labels
from tests.site.test_accessible_forms import dangling_references

pytestmark = pytest.mark.django_db

LABELS = [
    {"label": "tabby cat", "synonyms": ["tabby", "cat"], "probability": 0.61},
    {"label": "Egyptian cat", "synonyms": ["cat"], "probability": 0.002},
]


def page_url(record) -> str:
    return reverse("corpora:image", args=[record.corpus_id, record.pk])


def edit_url(record) -> str:
    return reverse("corpora:image_edit", args=[record.corpus_id, record.pk])


@pytest.fixture
def photo(user):
    corpus = make_corpus(user, name="cats", visibility=Visibility.PRIVATE)
    record = make_record(
        corpus,
        name="chelsea.jpg",
        format="JPEG",
        width=4000,
        height=3000,
        status=ImageStatus.ENCODED,
        caption="On the sofa",
        metadata={"roll": 3, "place": "Lisbon"},
        taken_at=datetime(2024, 7, 1, 12, 30, tzinfo=UTC),
        camera_make="Canon",
        camera_model="Canon EOS 5D",
        latitude=38.71234,
        longitude=-9.13999,
    )
    store_labels(record, LABELS)
    return services.update_image(record=record, tags=["cat", "sofa"])


def test_the_owner_sees_everything_and_the_form(client, user, photo):
    client.force_login(user)
    response = client.get(page_url(photo))
    assert response.status_code == 200
    html = response.content.decode()
    # The original, shown at most 800 px wide (a 12-MP file is not laid out at full size).
    file_url = reverse("corpora:image_file", args=[photo.corpus_id, photo.pk])
    assert f'src="{file_url}"' in html and 'width="800" height="600"' in html
    assert "4000 × 3000 pixels, JPEG" in html
    assert "1 Jul 2024, 12:30" in html and "Canon EOS 5D" in html
    assert "38.71234, -9.13999" in html and "Only you see this position" in html
    assert "tabby cat" in html and "61%" in html and "&lt;1%" in html
    assert "(tabby, cat)" in html
    text = reverse("search:corpus_text", args=[photo.corpus_id])
    assert f'<a class="badge" href="{text}?q=cat"' in html and "On the sofa" in html
    assert f'<a class="label-name" href="{text}?q=tabby%20cat">tabby cat</a>' in html
    assert "&quot;place&quot;: &quot;Lisbon&quot;" in html
    assert reverse("search:similar", args=[photo.corpus_id, photo.pk]) in html
    # The form, filled with what is stored.
    assert f'action="{edit_url(photo)}"' in html
    assert re.search(r'<input type="text" name="tags" value="cat, sofa"', html)
    assert dangling_references(html) == []


def test_a_public_corpus_shows_its_photos_to_anyone_without_the_form(client, user, photo):
    photo.corpus.visibility = Visibility.PUBLIC
    photo.corpus.save()
    response = client.get(page_url(photo))
    html = response.content.decode()
    assert response.status_code == 200
    assert "tabby cat" in html and "On the sofa" in html
    assert "38.71234" in html and "This corpus is public" in html
    assert 'name="tags"' not in html and "Delete this image" not in html


def test_staff_reading_a_private_corpus_do_not_see_the_position(client, django_user_model, photo):
    staff = django_user_model.objects.create_user("staff", password="x-long-pass-9", is_staff=True)
    client.force_login(staff)
    html = client.get(page_url(photo)).content.decode()
    assert "On the sofa" in html
    assert "38.71" not in html and "openstreetmap" not in html and "Location" not in html


def test_a_private_corpus_is_not_found_for_others(client, other_user, photo):
    client.force_login(other_user)
    assert client.get(page_url(photo)).status_code == 404
    assert client.post(edit_url(photo), {"tags": "mine"}).status_code == 404
    other = make_corpus(other_user, name="theirs")
    wrong_corpus = reverse("corpora:image", args=[other.pk, photo.pk])
    assert client.get(wrong_corpus).status_code == 404


def test_only_the_owner_may_edit_a_public_corpus(client, other_user, photo):
    photo.corpus.visibility = Visibility.PUBLIC
    photo.corpus.save()
    anonymous = client.post(edit_url(photo), {"tags": "mine"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    client.force_login(other_user)
    assert client.post(edit_url(photo), {"tags": "mine"}).status_code == 403
    photo.refresh_from_db()
    assert photo.tags == ["cat", "sofa"]


def test_the_owner_saves_tags_caption_and_metadata(client, user, photo):
    client.force_login(user)
    response = client.post(
        edit_url(photo),
        {"tags": " beach,  sunset , Beach,, ", "caption": "  At the pier ", "metadata": '{"a": 1}'},
    )
    assert response.status_code == 302 and response["Location"] == page_url(photo)
    photo.refresh_from_db()
    assert photo.tags == ["beach", "sunset"] and photo.tag_text == "|beach|sunset|"
    assert photo.caption == "At the pier" and photo.metadata == {"a": 1}
    html = client.get(response["Location"]).content.decode()
    assert "“chelsea.jpg” saved." in html and ">sunset</a></li>" in html


def test_emptying_the_fields_clears_them(client, user, photo):
    client.force_login(user)
    client.post(edit_url(photo), {"tags": "", "caption": "", "metadata": ""})
    photo.refresh_from_db()
    assert (photo.tags, photo.tag_text, photo.caption, photo.metadata) == ([], "", "", {})


def test_an_untouched_field_keeps_its_stored_value(client, user, photo):
    """A tag may hold a comma (the API allows it): saving only a new caption keeps it whole."""
    services.update_image(record=photo, tags=["Lisbon, Portugal"])
    client.force_login(user)
    form = client.get(page_url(photo)).context["form"]
    data = {name: form[name].value() for name in ("tags", "caption", "metadata")}
    client.post(edit_url(photo), {**data, "caption": "New caption"})
    photo.refresh_from_db()
    assert photo.tags == ["Lisbon, Portugal"] and photo.caption == "New caption"
    assert photo.metadata == {"roll": 3, "place": "Lisbon"}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"metadata": "{roll: 3"}, "metadata", "This is not valid JSON"),
        ({"metadata": "[1, 2]"}, "metadata", "metadata must be a JSON object."),
        ({"metadata": '{"x": "' + "y" * 5000 + '"}'}, "metadata", "at most 4096"),
        ({"tags": "a|b"}, "tags", "without &#x27;|&#x27;"),
        ({"tags": "x" * 51}, "tags", "at most 50 characters"),
        ({"caption": "c" * 2001}, "caption", "at most 2000"),
    ],
)
def test_bad_input_is_shown_in_the_form_and_nothing_is_saved(
    client, user, photo, data, field, message
):
    client.force_login(user)
    sent = {"tags": "cat, sofa", "caption": "On the sofa", "metadata": photo.metadata_text, **data}
    response = client.post(edit_url(photo), sent)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and f'id="image-{field}_error"' in html
    assert f'aria-describedby="image-{field}_helptext image-{field}_error"' in html
    assert 'aria-invalid="true"' in html
    assert dangling_references(html) == []
    assert response.context["form"][field].value() == sent[field]  # what was typed is kept
    photo.refresh_from_db()
    assert photo.tags == ["cat", "sofa"] and photo.caption == "On the sofa"
    assert photo.metadata == {"roll": 3, "place": "Lisbon"}


def test_a_format_browsers_cannot_show_is_shown_as_its_thumbnail(client, user):
    corpus = make_corpus(user)
    record = make_record(corpus, name="scan.tiff", format="TIFF")
    client.force_login(user)
    html = client.get(page_url(record)).content.decode()
    thumbnail = reverse("corpora:image_thumbnail", args=[corpus.pk, record.pk])
    assert f'class="image-picture" src="{thumbnail}"' in html
    # Not encoded yet: no "more like this", and labels are announced for later.
    assert reverse("search:similar", args=[corpus.pk, record.pk]) not in html
    assert "Predicted labels come once the image is encoded." in html


def test_the_corpus_grid_leads_to_the_image_pages(client, user, photo):
    client.force_login(user)
    html = client.get(reverse("corpora:detail", args=[photo.corpus_id])).content.decode()
    assert f'<a href="{page_url(photo)}">' in html


def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(client, user, photo):
    """Issue 23: the owner, signed out, opening their private corpus is asked to sign in (as
    is anyone signed out, for a corpus that is not there: nothing leaks), then comes back."""
    url = page_url(photo)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"
    login = client.get(response["Location"]).content.decode()
    assert "Log in to open that page" in login
    missing = client.get(reverse("corpora:detail", args=[photo.corpus_id + 1000]))
    assert missing.status_code == 302 and missing["Location"].startswith(reverse("login"))
    signed_in = client.post(
        reverse("login"), {"username": "alice", "password": "a-long-passphrase-1", "next": url}
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == url
    assert client.get(url).status_code == 200


def test_previous_and_next_follow_the_grid_order(client, user, photo):
    """Newest first, as the corpus page shows them: the newest has no previous one."""
    older = photo
    middle = make_record(older.corpus, name="b.png")
    newest = make_record(older.corpus, name="cc.png")
    client.force_login(user)
    html = client.get(page_url(middle)).content.decode()
    assert f'href="{page_url(newest)}" rel="prev"' in html
    assert f'href="{page_url(older)}" rel="next"' in html
    assert "2 of 3" in html and "js/image.js" in html
    first = client.get(page_url(newest)).content.decode()
    assert 'rel="prev"' not in first and "First image" in first and "1 of 3" in first
    last = client.get(page_url(older)).content.decode()
    assert 'rel="next"' not in last and "Last image" in last


def test_download_saves_the_original_under_its_name(client, user, photo):
    client.force_login(user)
    html = client.get(page_url(photo)).content.decode()
    file_url = reverse("corpora:image_file", args=[photo.corpus_id, photo.pk])
    assert f'href="{file_url}?download=1" download="chelsea.jpg"' in html
    assert "Zoom to the original (4000 × 3000)" in html
    saved = client.get(f"{file_url}?download=1")
    assert saved["Content-Disposition"] == 'attachment; filename="chelsea.jpg"'
    shown = client.get(file_url)
    assert shown["Content-Disposition"] == 'inline; filename="chelsea.jpg"'
