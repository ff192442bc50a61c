"""The trash through the API (/api/v1/trash/...) and the trash's pages (/corpora/trash/)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from corpora import services
from corpora.models import Corpus, ImageRecord
from tests.api_helpers import error_of
from tests.factories import make_corpus, make_record
from tests.site.test_accessible_forms import dangling_references

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def stuff(user):
    """A corpus with three images, and a second corpus."""
    corpus = make_corpus(user, "holiday")
    records = [make_record(corpus, name=f"{n}.png") for n in ("a", "bb", "ccc")]
    other = make_corpus(user, "work")
    return corpus, records, other


def image_url(corpus, record) -> str:
    return reverse("api:image-detail", args=[corpus.pk, record.pk])


def test_deleting_through_the_api_fills_the_trash(api, stuff):
    corpus, records, other = stuff
    assert api.delete(image_url(corpus, records[0])).status_code == 204
    bulk = api.post(
        reverse("api:image-bulk-delete", args=[corpus.pk]),
        {"ids": [records[1].pk, 999_999]},
        format="json",
    )
    assert bulk.status_code == 200
    assert bulk.json() == {"deleted": 1, "not_found": [999_999]}
    assert api.delete(reverse("api:corpus-detail", args=[other.pk])).status_code == 204

    body = api.get(reverse("api:trash")).json()

    assert body["days"] == 30
    assert [c["name"] for c in body["corpora"]] == ["work"]
    assert body["corpora"][0]["image_count"] == 0
    images = body["images"]
    assert {i["id"] for i in images} == {records[0].pk, records[1].pk}
    first = next(i for i in images if i["id"] == records[0].pk)
    assert first["corpus_id"] == corpus.pk and first["corpus_name"] == "holiday"
    assert first["filename"] == "a.png" and first["purges_at"] > first["trashed_at"]
    assert api.get(first["thumbnail_url"]).status_code == 200
    # Gone from the corpus: its list, the image itself, its file.
    listed = api.get(reverse("api:image-list", args=[corpus.pk])).json()["results"]
    assert [i["id"] for i in listed] == [records[2].pk]
    assert api.get(image_url(corpus, records[0])).status_code == 404
    assert api.get(reverse("api:image-file", args=[corpus.pk, records[0].pk])).status_code == 404
    assert api.get(reverse("api:corpus-detail", args=[other.pk])).status_code == 404
    assert api.get(reverse("api:corpus-detail", args=[corpus.pk])).json()["image_count"] == 1
    names = [c["name"] for c in api.get(reverse("api:corpus-list")).json()]
    assert names == ["holiday"]


def test_restoring_through_the_api(api, stuff):
    corpus, records, other = stuff
    api.delete(image_url(corpus, records[0]))
    api.delete(reverse("api:corpus-detail", args=[other.pk]))
    api.post(reverse("api:corpus-list"), {"name": "work"}, format="json")

    image = api.post(reverse("api:trash-image-restore", args=[records[0].pk]))
    assert image.status_code == 200 and image.json()["id"] == records[0].pk
    assert api.get(image_url(corpus, records[0])).status_code == 200
    restored = api.post(reverse("api:trash-corpus-restore", args=[other.pk]))
    assert restored.status_code == 200 and restored.json()["name"] == "work (restored)"
    assert api.get(reverse("api:corpus-detail", args=[other.pk])).status_code == 200
    assert api.get(reverse("api:trash")).json() == {"days": 30, "corpora": [], "images": []}
    again = api.post(reverse("api:trash-image-restore", args=[records[0].pk]))
    assert again.status_code == 404 and error_of(again)["code"] == "not_found"


def test_many_images_come_back_at_once(api, stuff, other_user):
    corpus, records, _ = stuff
    api.post(
        reverse("api:image-bulk-delete", args=[corpus.pk]),
        {"ids": [r.pk for r in records]},
        format="json",
    )
    theirs = make_record(make_corpus(other_user, "theirs"), name="t.png")
    services.delete_images(corpus=theirs.corpus, image_ids=[theirs.pk])
    response = api.post(
        reverse("api:trash-images-restore"),
        {"ids": [records[0].pk, records[2].pk, theirs.pk, 999_999]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"restored": 2, "not_found": sorted([theirs.pk, 999_999])}
    listed = api.get(reverse("api:image-list", args=[corpus.pk])).json()["results"]
    assert {i["id"] for i in listed} == {records[0].pk, records[2].pk}
    assert ImageRecord.all_objects.get(pk=theirs.pk).trashed_at is not None
    refused = api.post(reverse("api:trash-images-restore"), {"ids": []}, format="json")
    assert refused.status_code == 400


def test_purging_one_thing_or_everything(api, stuff):
    corpus, records, other = stuff
    for record in records:
        api.delete(image_url(corpus, record))
    api.delete(reverse("api:corpus-detail", args=[other.pk]))

    assert api.delete(reverse("api:trash-image", args=[records[0].pk])).status_code == 204
    assert not ImageRecord.all_objects.filter(pk=records[0].pk).exists()
    assert api.delete(reverse("api:trash-corpus", args=[other.pk])).status_code == 204
    assert not Corpus.objects.filter(pk=other.pk).exists()
    emptied = api.post(reverse("api:trash-empty"))
    assert emptied.status_code == 200 and emptied.json() == {"corpora": 0, "images": 2}
    assert not ImageRecord.all_objects.filter(corpus=corpus).exists()
    assert Corpus.objects.filter(pk=corpus.pk).exists()


def test_someone_elses_trash_is_not_found(api, stuff, other_user):
    corpus, records, other = stuff
    services.delete_images(corpus=corpus, image_ids=[records[0].pk])
    services.delete_corpus(corpus=other)
    bob = APIClient()
    bob.force_authenticate(other_user)
    assert bob.get(reverse("api:trash")).json() == {"days": 30, "corpora": [], "images": []}
    for response in (
        bob.post(reverse("api:trash-image-restore", args=[records[0].pk])),
        bob.delete(reverse("api:trash-image", args=[records[0].pk])),
        bob.get(reverse("api:trash-image-thumbnail", args=[records[0].pk])),
        bob.post(reverse("api:trash-corpus-restore", args=[other.pk])),
        bob.delete(reverse("api:trash-corpus", args=[other.pk])),
    ):
        assert response.status_code == 404, response
    assert bob.post(reverse("api:trash-empty")).json() == {"corpora": 0, "images": 0}
    assert ImageRecord.all_objects.filter(pk=records[0].pk).exists()
    assert Corpus.objects.filter(pk=other.pk).exists()
    anonymous = APIClient()
    assert anonymous.get(reverse("api:trash")).status_code == 401


def test_a_live_image_or_corpus_is_not_in_the_trash(api, stuff):
    corpus, records, _ = stuff
    assert api.delete(reverse("api:trash-image", args=[records[0].pk])).status_code == 404
    assert api.post(reverse("api:trash-corpus-restore", args=[corpus.pk])).status_code == 404
    assert ImageRecord.objects.filter(pk=records[0].pk).exists()


def test_the_trash_period_is_the_setting(api, settings):
    settings.CRIER_TRASH_DAYS = 7
    assert api.get(reverse("api:trash")).json()["days"] == 7


# --- pages ---------------------------------------------------------------------------------------


def test_the_trash_page_lists_restores_and_purges(client, user, stuff):
    corpus, records, other = stuff
    client.force_login(user)
    client.post(reverse("corpora:image_delete", args=[corpus.pk, records[0].pk]))
    client.post(reverse("corpora:images_delete", args=[corpus.pk]), {"ids": [records[1].pk]})
    client.post(reverse("corpora:delete", args=[other.pk]))

    page = client.get(reverse("corpora:trash"))
    html = page.content.decode()
    assert page.status_code == 200 and dangling_references(html) == []
    assert "a.png" in html and "bb.png" in html and "work" in html
    thumbnail = reverse("corpora:trash_thumbnail", args=[records[0].pk])
    assert thumbnail in html and client.get(thumbnail).status_code == 200
    assert "restore it as it was" in html and "30 days" in html and "gone for good on" in html

    restore = client.post(reverse("corpora:trash_restore_images"), {"ids": [records[0].pk]})
    assert restore.status_code == 302 and ImageRecord.objects.filter(pk=records[0].pk).exists()
    client.post(reverse("corpora:trash_restore_corpus", args=[other.pk]))
    assert Corpus.objects.get(pk=other.pk).trashed_at is None

    confirm = client.get(reverse("corpora:trash_purge"), {"ids": [records[1].pk]})
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert ImageRecord.all_objects.filter(pk=records[1].pk).exists()
    client.post(reverse("corpora:trash_purge"), {"ids": [records[1].pk]})
    assert not ImageRecord.all_objects.filter(pk=records[1].pk).exists()
    assert "Your trash is empty" in client.get(reverse("corpora:trash")).content.decode()


def test_emptying_the_trash_page_asks_first(client, user, stuff):
    corpus, records, other = stuff
    services.delete_images(corpus=corpus, image_ids=[records[0].pk])
    services.delete_corpus(corpus=other)
    client.force_login(user)
    confirm = client.get(reverse("corpora:trash_purge"), {"all": "1"})
    assert confirm.status_code == 200 and "Empty the trash?" in confirm.content.decode()
    assert Corpus.objects.filter(pk=other.pk).exists()
    done = client.post(reverse("corpora:trash_purge"), {"all": "1"})
    assert done.status_code == 302
    assert not Corpus.objects.filter(pk=other.pk).exists()
    assert not ImageRecord.all_objects.filter(pk=records[0].pk).exists()


def test_the_trash_pages_are_the_owners(client, user, other_user, stuff):
    corpus, records, other = stuff
    services.delete_images(corpus=corpus, image_ids=[records[0].pk])
    services.delete_corpus(corpus=other)
    assert client.get(reverse("corpora:trash")).status_code == 302  # to sign in
    client.force_login(other_user)
    assert "a.png" not in client.get(reverse("corpora:trash")).content.decode()
    thumbnail = reverse("corpora:trash_thumbnail", args=[records[0].pk])
    assert client.get(thumbnail).status_code == 404
    restore = client.post(reverse("corpora:trash_restore_corpus", args=[other.pk]))
    assert restore.status_code == 404
    purge = client.post(reverse("corpora:trash_purge"), {"ids": [records[0].pk]})
    assert purge.status_code == 400
    assert ImageRecord.all_objects.filter(pk=records[0].pk).exists()


def test_the_corpora_page_links_to_the_trash(client, user):
    client.force_login(user)
    html = client.get(reverse("corpora:list")).content.decode()
    assert f'href="{reverse("corpora:trash")}"' in html
