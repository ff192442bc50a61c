"""Edit in place (corpus page "Edit details") and select-many delete: the page goes through the
API's PATCH serializer and service, so both answer bad input with the same words."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from corpora.models import Visibility
from tests.factories import make_corpus, make_record

pytestmark = pytest.mark.django_db


def edit_url(corpus) -> str:
    return reverse("corpora:edit", args=[corpus.pk])


def form(**changes) -> dict:
    return {"name": "holiday", "description": "", "visibility": "private", **changes}


def test_the_owner_edits_name_description_and_visibility(client, user):
    corpus = make_corpus(user, expires_at=timezone.now() + timedelta(minutes=30))
    client.force_login(user)
    page = client.get(reverse("corpora:detail", args=[corpus.pk])).content.decode()
    assert "Edit details" in page and 'value="holiday"' in page
    response = client.post(
        edit_url(corpus),
        form(name="  Summer 2026 ", description="Beach.", visibility="public"),
    )
    assert response.status_code == 302
    corpus.refresh_from_db()
    assert (corpus.name, corpus.description, corpus.visibility) == (
        "Summer 2026",
        "Beach.",
        Visibility.PUBLIC,
    )
    assert corpus.expires_at is not None  # an empty expiry field leaves it as it was


def test_expiry_can_be_set_anew_or_removed(client, user):
    corpus = make_corpus(user)
    client.force_login(user)
    client.post(edit_url(corpus), form(expires_in_minutes="90"))
    corpus.refresh_from_db()
    expected = timezone.now() + timedelta(minutes=90)
    assert abs((corpus.expires_at - expected).total_seconds()) < 60
    client.post(edit_url(corpus), form(keep_forever="1", expires_in_minutes="5"))
    corpus.refresh_from_db()
    assert corpus.expires_at is None


@pytest.mark.parametrize(
    ("changes", "patch"),
    [
        ({"name": "  "}, {"name": "  "}),
        ({"visibility": "everyone"}, {"visibility": "everyone"}),
        ({"expires_in_minutes": "0"}, {"expires_in_minutes": 0}),
        ({"expires_in_minutes": "99999999"}, {"expires_in_minutes": 99999999}),
    ],
)
def test_bad_input_gets_the_apis_words_and_changes_nothing(client, user, changes, patch):
    corpus = make_corpus(user, description="kept")
    api = APIClient()
    api.force_authenticate(user)
    answer = api.patch(reverse("api:corpus-detail", args=[corpus.pk]), patch, format="json")
    assert answer.status_code == 400
    (field, messages), *_ = answer.json()["error"]["fields"].items()

    client.force_login(user)
    response = client.post(edit_url(corpus), form(description="changed", **changes))
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert messages[0] in page, (messages, field)
    assert 'aria-invalid="true"' in page and '<details class="card fold edit-details" open>' in page
    corpus.refresh_from_db()
    assert corpus.description == "kept" and corpus.name == "holiday"


def test_a_name_already_used_is_refused_like_the_api_does(client, user):
    make_corpus(user, name="taken")
    corpus = make_corpus(user)
    client.force_login(user)
    api = APIClient()
    api.force_authenticate(user)
    patch = api.patch(
        reverse("api:corpus-detail", args=[corpus.pk]), {"name": "taken"}, format="json"
    )
    assert patch.status_code == 409  # the API's answer; the page shows the form again
    response = client.post(edit_url(corpus), form(name="taken"))
    assert response.status_code == 400
    assert "You already have a corpus named &#x27;taken&#x27;" in response.content.decode()
    corpus.refresh_from_db()
    assert corpus.name == "holiday"


def test_only_the_owner_may_edit(client, user, other_user):
    private = make_corpus(user)
    public = make_corpus(user, name="open", visibility=Visibility.PUBLIC)
    assert client.post(edit_url(private), form(name="x")).status_code == 302  # to log in
    client.force_login(other_user)
    assert client.post(edit_url(private), form(name="x")).status_code == 404
    assert client.post(edit_url(public), form(name="x")).status_code == 403
    page = client.get(reverse("corpora:detail", args=[public.pk])).content.decode()
    assert "Edit details" not in page and 'form="select-many"' not in page
    private.refresh_from_db()
    public.refresh_from_db()
    assert (private.name, public.name) == ("holiday", "open")


def test_the_grid_offers_select_many_to_the_owner(client, user):
    corpus = make_corpus(user)
    records = [make_record(corpus, name=f"{'x' * n}.png") for n in range(1, 4)]
    client.force_login(user)
    page = client.get(reverse("corpora:detail", args=[corpus.pk])).content.decode()
    assert page.count('form="select-many"') == 3
    assert f'value="{records[0].pk}" form="select-many"' in page
    empty = client.get(reverse("corpora:images_delete", args=[corpus.pk]))
    assert empty.status_code == 400
    assert "Select the images to delete first." in empty.content.decode()
    chosen = client.get(
        reverse("corpora:images_delete", args=[corpus.pk]),
        {"ids": [records[0].pk, records[2].pk], "next": f"/corpora/{corpus.pk}/"},
    )
    assert chosen.status_code == 200 and "Delete 2 images" in chosen.content.decode()
