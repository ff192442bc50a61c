"""Thumbnails: made at ingest beside the original, deleted with it, served by the permission-
checked file view with an ETag and private caching, back-filled for older images, never
exported."""

from __future__ import annotations

import importlib
import io
import zipfile
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import reverse
from django_q.models import Schedule
from PIL import Image
from rest_framework.test import APIClient

from corpora import cleanup, services, thumbnails, trash
from corpora.models import ImageRecord, Visibility
from tests.factories import image_bytes, ingest, make_corpus, make_record

pytestmark = pytest.mark.django_db


def test_ingest_stores_an_upright_webp_thumbnail_beside_the_original(user, camera_photos):
    corpus = make_corpus(user)
    upright, rotated = ingest(
        corpus,
        {"upright.jpg": camera_photos[0].read_bytes(), "phone.jpg": camera_photos[2].read_bytes()},
    )
    for record in (upright, rotated):
        record.refresh_from_db()
        original, thumb = Path(record.file.path), Path(record.thumbnail.path)
        assert thumb.parent == original.parent
        assert thumb.name == original.stem + ".thumb.webp"
        with Image.open(thumb) as image:
            assert image.format == "WEBP" and image.size == (320, 240)  # upright 4:3
        assert record.thumbnail_size == (320, 240)
        assert thumb.stat().st_size < 40_000 < original.stat().st_size // 50
    assert (rotated.width, rotated.height) == (4000, 3000)  # as shown, not as stored


def test_small_images_keep_their_size_and_files_go_with_the_row(
    user, django_capture_on_commit_callbacks
):
    corpus = make_corpus(user)
    (record,) = ingest(corpus, {"small.png": image_bytes(seed=1, size=(64, 48))})
    with Image.open(record.thumbnail.path) as image:
        assert image.size == (64, 48)  # never enlarged
    paths = [Path(record.file.path), Path(record.thumbnail.path)]
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_images(corpus=corpus, image_ids=[record.pk])
    assert all(path.exists() for path in paths)  # in the trash: restorable as it was
    with django_capture_on_commit_callbacks(execute=True):
        trash.purge_images(records=ImageRecord.all_objects.filter(pk=record.pk))
    assert not any(path.exists() for path in paths)


def test_the_orphan_sweep_keeps_live_thumbnails(user):
    corpus = make_corpus(user)
    (record,) = ingest(corpus, {"a.png": image_bytes(seed=2)})
    assert cleanup.sweep_orphan_files(grace_seconds=0) == []
    assert Path(record.thumbnail.path).exists()


@pytest.fixture
def public_record(user):
    corpus = make_corpus(user, visibility=Visibility.PUBLIC)
    (record,) = ingest(corpus, {"a.png": image_bytes(seed=3, size=(640, 480))})
    return record


def test_the_thumbnail_view_sends_an_etag_and_answers_304(client, public_record):
    url = reverse("corpora:image_thumbnail", args=[public_record.corpus_id, public_record.pk])
    first = client.get(url)
    assert first.status_code == 200 and first["Content-Type"] == "image/webp"
    assert first["Cache-Control"].startswith("private, max-age=")
    body = b"".join(first.streaming_content)
    assert body == Path(public_record.thumbnail.path).read_bytes()
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"] and not again.content
    assert client.get(url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200
    original = client.get(
        reverse("corpora:image_file", args=[public_record.corpus_id, public_record.pk])
    )
    assert original["ETag"] != first["ETag"] and original["Content-Type"] == "image/png"


def test_private_thumbnails_are_404_for_others(client, user, other_user):
    corpus = make_corpus(user)
    (record,) = ingest(corpus, {"a.png": image_bytes(seed=4)})
    url = reverse("corpora:image_thumbnail", args=[corpus.pk, record.pk])
    assert client.get(url).status_code == 404
    client.force_login(other_user)
    assert client.get(url).status_code == 404
    api = APIClient()
    api.force_authenticate(other_user)
    assert api.get(reverse("api:image-thumbnail", args=[corpus.pk, record.pk])).status_code == 404
    api.force_authenticate(user)
    response = api.get(reverse("api:image-thumbnail", args=[corpus.pk, record.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    detail = api.get(reverse("api:image-detail", args=[corpus.pk, record.pk])).json()
    assert detail["thumbnail_url"].endswith(f"/images/{record.pk}/thumbnail/")


def test_older_images_get_thumbnails_from_the_backfill_or_on_first_request(client, user):
    corpus = make_corpus(user)
    old = [make_record(corpus, image_bytes(seed=seed), name=f"{seed}.png") for seed in (5, 6)]
    assert not any(record.thumbnail for record in old)  # stored before thumbnails existed

    assert thumbnails.backfill() == 2
    assert thumbnails.backfill() == 0
    for record in old:
        record.refresh_from_db()
        assert Path(record.thumbnail.path).is_file()

    lazy = make_record(corpus, image_bytes(seed=7), name="7.png")
    client.force_login(user)
    response = client.get(reverse("corpora:image_thumbnail", args=[corpus.pk, lazy.pk]))
    assert response.status_code == 200
    lazy.refresh_from_db()
    assert b"".join(response.streaming_content) == Path(lazy.thumbnail.path).read_bytes()


def test_the_migration_schedules_the_backfill_only_where_images_exist(user):
    migration = importlib.import_module("corpora.migrations.0004_thumbnails")
    migration.schedule_backfill(apps, None)
    assert not Schedule.objects.filter(func="corpora.tasks.backfill_thumbnails").exists()
    make_record(make_corpus(user), image_bytes(seed=8))
    migration.schedule_backfill(apps, None)
    (schedule,) = Schedule.objects.filter(func="corpora.tasks.backfill_thumbnails")
    assert schedule.schedule_type == Schedule.ONCE


def test_export_ships_the_originals_only(user):
    corpus = make_corpus(user)
    (record,) = ingest(corpus, {"a.png": image_bytes(seed=9)})
    api = APIClient()
    api.force_authenticate(user)
    response = api.get(reverse("api:corpus-export", args=[corpus.pk]))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    images = [name for name in archive.namelist() if name.startswith("images/")]
    assert images == [f"images/{record.pk}/a.png"]
    assert archive.read(images[0]) == Path(record.file.path).read_bytes()
