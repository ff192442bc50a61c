"""Exporting a corpus as a ZIP: every image and a manifest, owner only, and it imports back."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from corpora.export import member_name
from corpora.models import Corpus, ImageRecord, Visibility
from tests.factories import image_bytes, make_corpus, make_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus_with_images(user):
    corpus = make_corpus(user, "Trip / 2026")
    files = {
        "beach.jpg": image_bytes(seed=1, fmt="JPEG"),
        "dup-name-a": image_bytes(seed=2),
        "dup-name-b": image_bytes(seed=3),
    }
    beach = make_record(
        corpus,
        files["beach.jpg"],
        name="beach.jpg",
        format="JPEG",
        metadata={"path": "d/beach.jpg"},
    )
    # Two different images with the same name must both survive the export.
    same_a = make_record(corpus, files["dup-name-a"], name="same.png")
    same_b = make_record(corpus, files["dup-name-b"], name="same.png")
    gone = make_record(corpus, image_bytes(seed=4), name="lost.png")
    gone.file.delete(save=False)  # the row is there, its file is not
    return corpus, {beach.pk: files["beach.jpg"], same_a.pk: files["dup-name-a"],
                    same_b.pk: files["dup-name-b"]}, gone  # fmt: skip


def read_zip(response) -> zipfile.ZipFile:
    assert response.streaming
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_the_owner_downloads_every_image_and_a_manifest(user, corpus_with_images):
    corpus, stored, gone = corpus_with_images
    api = APIClient()
    api.force_authenticate(user)
    response = api.get(reverse("api:corpus-export", args=[corpus.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == (
        f'attachment; filename="crier-{corpus.pk}-Trip---2026.zip"'
    )
    assert "no-store" in response["Cache-Control"]
    archive = read_zip(response)
    assert archive.testzip() is None
    for pk, data in stored.items():
        name = next(n for n in archive.namelist() if n.startswith(f"images/{pk}/"))
        assert archive.read(name) == data
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["corpus"]["name"] == "Trip / 2026"
    assert sorted(image["id"] for image in manifest["images"]) == sorted(stored)
    beach = next(image for image in manifest["images"] if image["file"].endswith("beach.jpg"))
    assert beach["metadata"] == {"path": "d/beach.jpg"} and len(beach["sha256"]) == 64
    assert [image["id"] for image in manifest["missing"]] == [gone.pk]


def test_the_archive_imports_back_with_the_same_images(user, corpus_with_images, tmp_path: Path):
    corpus, stored, _ = corpus_with_images
    api = APIClient()
    api.force_authenticate(user)
    archive = tmp_path / "export.zip"
    archive.write_bytes(
        b"".join(api.get(reverse("api:corpus-export", args=[corpus.pk])).streaming_content)
    )
    call_command(
        "import_images", str(archive), "--corpus", "copy", "--owner", user.username,
        "--create", "--no-progress", stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip
    copy = Corpus.objects.get(owner=user, name="copy")
    original = corpus.images.filter(pk__in=stored)
    assert sorted(copy.images.values_list("sha256", "original_filename")) == sorted(
        original.values_list("sha256", "original_filename")
    )


def test_only_the_owner_may_export(user, other_user, corpus_with_images):
    corpus, _, _ = corpus_with_images
    url = reverse("api:corpus-export", args=[corpus.pk])
    api = APIClient()
    assert api.get(url).status_code in (401, 403)  # anonymous
    api.force_authenticate(other_user)
    assert api.get(url).status_code == 404  # private: not even its existence
    corpus.visibility = Visibility.PUBLIC
    corpus.save()
    assert api.get(url).status_code == 403  # public: readable, not exportable by others


def test_the_corpus_page_offers_the_download(client, user, other_user, corpus_with_images):
    corpus, stored, _ = corpus_with_images
    export_url = reverse("corpora:export", args=[corpus.pk])
    client.force_login(user)
    assert export_url in client.get(reverse("corpora:detail", args=[corpus.pk])).content.decode()
    assert export_url in client.get(reverse("corpora:delete", args=[corpus.pk])).content.decode()
    names = read_zip(client.get(export_url)).namelist()
    assert len([n for n in names if n.startswith("images/")]) == len(stored)
    client.force_login(other_user)
    assert client.get(export_url).status_code == 404


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("cat.png", "cat.png"),
        ("a/b\\c.png", "c.png"),
        ("..", "image-7.png"),
        ("x\x00\ny.png", "xy.png"),
        ("index.html", "index.html.png"),  # the real format's extension: import reads it back
        ("CAT.PNG", "CAT.PNG"),
    ],
)
def test_member_names_stay_inside_their_folder(original, expected):
    record = ImageRecord(pk=7, original_filename=original, format="PNG")
    assert member_name(record) == f"images/7/{expected}"


def test_a_png_named_index_html_is_stored_exported_and_imported_as_a_png(user, tmp_path: Path):
    corpus = make_corpus(user, "misnamed")
    data = image_bytes(seed=11)
    api = APIClient()
    api.force_authenticate(user)
    upload = SimpleUploadedFile("index.html", data, content_type="text/html")
    response = api.post(
        reverse("api:image-list", args=[corpus.pk]), {"images": [upload]}, format="multipart"
    )
    assert response.status_code == 202, response.json()
    record = corpus.images.get()
    assert record.file.name.endswith(".png") and record.original_filename == "index.html"
    assert record.content_type == "image/png"

    archive = tmp_path / "export.zip"
    archive.write_bytes(
        b"".join(api.get(reverse("api:corpus-export", args=[corpus.pk])).streaming_content)
    )
    assert f"images/{record.pk}/index.html.png" in zipfile.ZipFile(archive).namelist()
    call_command(
        "import_images", str(archive), "--corpus", "copy", "--owner", user.username,
        "--create", "--no-progress", stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip
    (copy,) = Corpus.objects.get(owner=user, name="copy").images.all()
    assert copy.sha256 == record.sha256 and copy.file.name.endswith(".png")
