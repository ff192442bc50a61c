"""Image metadata (issue 14 item 1): EXIF at ingest, uploader tags/caption/JSON through the API,
PATCH, import sidecars and the export → import round trip."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from corpora import services
from corpora.export import stream_corpus_zip
from corpora.metadata import MAX_DATA_BYTES
from corpora.models import Corpus, Visibility
from crier_site.errors import InvalidInput
from tests.api_helpers import error_of, upload_file
from tests.factories import (
    exif_jpeg,
    image_bytes,
    make_corpus,
    make_record,
    with_broken_exif,
)

pytestmark = pytest.mark.django_db


def ingest(corpus, files: dict[str, bytes], **kwargs):
    return services.ingest_files(
        corpus=corpus,
        files=[(name, io.BytesIO(data)) for name, data in files.items()],
        enqueue=False,
        **kwargs,
    )


# --- EXIF ----------------------------------------------------------------------------------------


def test_exif_time_camera_and_position_are_read_at_ingest(user):
    corpus = make_corpus(user)
    report = ingest(corpus, {"trip.jpg": exif_jpeg(size=(80, 60))})

    record = report.accepted[0]
    record.refresh_from_db()
    assert record.taken_at == datetime(2024, 7, 14, 13, 30, tzinfo=UTC)  # 15:30 at +02:00
    assert (record.camera_make, record.camera_model) == ("Canon", "Canon EOS 5D")
    assert record.camera == "Canon EOS 5D"
    assert record.latitude == pytest.approx(52.52)
    assert record.longitude == pytest.approx(-13.41)  # west is negative
    assert (record.width, record.height) == (80, 60)


def test_a_time_without_offset_is_taken_as_utc_and_missing_parts_stay_empty(user):
    corpus = make_corpus(user)
    data = exif_jpeg(make=None, model="Pixel 8", offset=None, gps=None)
    record = ingest(corpus, {"p.jpg": data}).accepted[0]
    record.refresh_from_db()
    assert record.taken_at == datetime(2024, 7, 14, 15, 30, tzinfo=UTC)
    assert (record.camera_make, record.camera) == ("", "Pixel 8")
    assert record.latitude is None and record.longitude is None


@pytest.mark.parametrize(
    "exif",
    [
        {"taken": "not a date at all"},
        {"taken": "0000:00:00 00:00:00"},
        {"offset": "+99:99"},
        {"gps": ("N", (200.0, 0.0, 0.0), "E", (10.0, 0.0, 0.0))},  # latitude out of range
        {"gps": ("Q", (10.0, 0.0, 0.0), "E", (10.0, 0.0, 0.0))},  # no such hemisphere
        {"gps": ("N", (52.0, 31.0), "E", (10.0, 0.0, 0.0))},  # two parts, not three
        {"make": "\x00\x01\x02"},
    ],
)
def test_bad_exif_fields_are_left_out_and_never_fail_the_upload(user, exif):
    corpus = make_corpus(user)
    report = ingest(corpus, {"odd.jpg": exif_jpeg(**exif)})
    assert len(report.accepted) == 1, report.rejected
    record = report.accepted[0]
    if "taken" in exif:
        assert record.taken_at is None
    if "offset" in exif:
        assert record.taken_at == datetime(2024, 7, 14, 15, 30, tzinfo=UTC)
    if "gps" in exif:
        assert record.latitude is None and record.longitude is None
        assert record.camera_model == "Canon EOS 5D"  # the rest is still read
    if "make" in exif:
        assert record.camera_make == ""


@pytest.mark.filterwarnings("ignore:Corrupt EXIF")
def test_a_garbage_exif_block_is_ignored(user):
    corpus = make_corpus(user)
    report = ingest(corpus, {"garbage.jpg": with_broken_exif(image_bytes(fmt="JPEG", seed=9))})
    assert len(report.accepted) == 1, report.rejected
    assert report.accepted[0].taken_at is None and report.accepted[0].camera == ""


# --- uploader metadata at ingest -----------------------------------------------------------------


def test_tags_caption_and_json_are_stored_per_file(user):
    corpus = make_corpus(user)
    report = ingest(
        corpus,
        {"a.png": image_bytes(seed=1), "b.png": image_bytes(seed=2)},
        annotations={
            "a.png": {
                "tags": [" Beach ", "holiday", "beach", ""],
                "caption": " Sunset at the pier ",
                "metadata": {"roll": 3, "people": ["ann"]},
            }
        },
    )
    a, b = report.accepted
    assert a.tags == ["Beach", "holiday"]  # trimmed, duplicates (any case) and blanks dropped
    assert a.tag_text == "|beach|holiday|"
    assert a.caption == "Sunset at the pier"
    assert a.metadata == {"roll": 3, "people": ["ann"]}
    assert (b.tags, b.caption, b.metadata) == ([], "", {})
    assert report.rejected == []


@pytest.mark.parametrize(
    ("annotation", "reason"),
    [
        ({"tags": "beach"}, "list of strings"),
        ({"tags": [1, 2]}, "must be a string"),
        ({"tags": ["x" * 51]}, "at most 50"),
        ({"tags": [f"t{i}" for i in range(51)]}, "At most 50 tags"),
        ({"caption": ["no"]}, "caption must be a string"),
        ({"metadata": ["not", "an", "object"]}, "JSON object"),
        ({"metadata": {"blob": "x" * MAX_DATA_BYTES}}, "at most 4096"),
        ({"colour": "red"}, "Unknown key"),
        ("just text", "must be an object"),
    ],
)
def test_bad_metadata_rejects_that_file_alone(user, annotation, reason):
    corpus = make_corpus(user)
    report = ingest(
        corpus,
        {"bad.png": image_bytes(seed=1), "good.png": image_bytes(seed=2)},
        annotations={"bad.png": annotation, "good.png": {"tags": ["ok"]}},
    )
    assert [r.original_filename for r in report.accepted] == ["good.png"]
    assert report.accepted[0].tags == ["ok"]
    [rejected] = report.rejected
    assert rejected.filename == "bad.png"
    assert "Bad metadata" in rejected.error and reason in rejected.error
    assert corpus.images.count() == 1


def test_metadata_for_a_name_that_was_not_sent_is_reported(user):
    corpus = make_corpus(user)
    report = ingest(
        corpus,
        {"a.png": image_bytes(seed=1)},
        annotations={"a.png": {"tags": ["x"]}, "missing.png": {"tags": ["y"]}},
    )
    assert len(report.accepted) == 1
    assert [(r.filename, "no file of that name" in r.error) for r in report.rejected] == [
        ("missing.png", True)
    ]


# --- the API -------------------------------------------------------------------------------------


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def test_a_nul_in_free_metadata_is_stored_as_the_replacement_character(api, user):
    """PostgreSQL's jsonb cannot hold U+0000 and a schema cannot forbid it inside a free-form
    object: the API takes it (docs/metadata.md) rather than refuse schema-valid input."""
    record = make_record(make_corpus(user))
    api.force_authenticate(user)
    url = reverse("api:image-detail", args=[record.corpus_id, record.pk])
    sent = {"a\x00b": ["c\x00", {"\x00": 1}]}
    response = api.patch(url, {"metadata": sent}, format="json")
    assert response.status_code == 200, response.content
    stored = {"a\ufffdb": ["c\ufffd", {"\ufffd": 1}]}
    assert response.json()["metadata"] == stored
    record.refresh_from_db()
    assert record.metadata == stored

    colliding = {"k\x00": 1, "k\ufffd": 2}
    refused = api.patch(url, {"metadata": colliding}, format="json")
    assert refused.status_code == 400 and "NUL" in error_of(refused)["message"]
    record.refresh_from_db()
    assert record.metadata == stored  # bad input never loses data


def test_api_upload_with_a_metadata_field(api, user):
    corpus = make_corpus(user)
    api.force_authenticate(user)
    metadata = {
        "trip.jpg": {"tags": ["beach"], "caption": "pier", "metadata": {"roll": 3}},
        "bad.png": {"tags": "beach"},
        "ghost.png": {"tags": ["x"]},
    }
    response = api.post(
        reverse("api:image-list", args=[corpus.pk]),
        {
            "images": [
                upload_file("trip.jpg", exif_jpeg()),
                upload_file("bad.png", image_bytes(seed=2)),
                upload_file("plain.png", image_bytes(seed=3)),
            ],
            "metadata": json.dumps(metadata),
        },
        format="multipart",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert sorted(a["filename"] for a in body["accepted"]) == ["plain.png", "trip.jpg"]
    assert {r["filename"] for r in body["rejected"]} == {"bad.png", "ghost.png"}

    trip = next(a for a in body["accepted"] if a["filename"] == "trip.jpg")
    detail = api.get(trip["url"]).json()
    assert detail["tags"] == ["beach"] and detail["caption"] == "pier"
    assert detail["metadata"] == {"roll": 3}
    assert detail["camera"] == "Canon EOS 5D"
    assert detail["taken_at"].startswith("2024-07-14T13:30:00")
    assert detail["latitude"] == pytest.approx(52.52)  # the owner sees the position
    assert detail["labels"] == []  # histogram corpus: no classifier


def test_api_metadata_field_that_is_not_a_json_object_is_a_400(api, user):
    corpus = make_corpus(user)
    api.force_authenticate(user)
    for raw in ("{nope", "[1, 2]"):
        response = api.post(
            reverse("api:image-list", args=[corpus.pk]),
            {"images": [upload_file("a.png", image_bytes(seed=1))], "metadata": raw},
            format="multipart",
        )
        assert response.status_code == 400
        assert "metadata" in error_of(response)["message"]
    assert corpus.images.count() == 0


def test_gps_is_shown_to_the_owner_and_on_public_corpora_only(api, user, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="x-long-pass-1", is_staff=True)
    corpus = make_corpus(user)
    record = ingest(corpus, {"trip.jpg": exif_jpeg()}).accepted[0]
    url = reverse("api:image-detail", args=[corpus.pk, record.pk])

    api.force_authenticate(staff)  # may read any corpus, but is not its owner
    assert api.get(url).json()["latitude"] is None
    listed = api.get(reverse("api:image-list", args=[corpus.pk])).json()["results"][0]
    assert listed["latitude"] is None and listed["longitude"] is None

    api.force_authenticate(user)
    assert api.get(url).json()["longitude"] == pytest.approx(-13.41)

    Corpus.objects.filter(pk=corpus.pk).update(visibility=Visibility.PUBLIC)
    api.force_authenticate(None)
    assert api.get(url).json()["latitude"] == pytest.approx(52.52)


def test_patch_changes_only_the_fields_sent(api, user, other_user):
    corpus = make_corpus(user, visibility=Visibility.PUBLIC)
    record = make_record(corpus, caption="old", tags=["a"], tag_text="|a|")
    url = reverse("api:image-detail", args=[corpus.pk, record.pk])
    api.force_authenticate(user)

    response = api.patch(url, {"tags": ["Dog", "park"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["tags"] == ["Dog", "park"] and response.json()["caption"] == "old"
    record.refresh_from_db()
    assert record.tag_text == "|dog|park|"

    response = api.patch(url, {"caption": "new", "metadata": {"k": "v"}}, format="json")
    assert (response.json()["caption"], response.json()["metadata"]) == ("new", {"k": "v"})
    assert response.json()["tags"] == ["Dog", "park"]

    for bad in ({"tags": "dog"}, {"metadata": [1]}, {"metadata": {"x": "y" * MAX_DATA_BYTES}}):
        response = api.patch(url, bad, format="json")
        assert response.status_code == 400, bad
        error_of(response)
    record.refresh_from_db()
    assert record.metadata == {"k": "v"}

    api.force_authenticate(other_user)  # a public corpus: readable, not theirs to change
    assert api.patch(url, {"caption": "mine"}, format="json").status_code == 403
    Corpus.objects.filter(pk=corpus.pk).update(visibility=Visibility.PRIVATE)
    assert api.patch(url, {"caption": "mine"}, format="json").status_code == 404
    api.force_authenticate(None)
    assert api.patch(url, {"caption": "mine"}, format="json").status_code in {401, 403}
    record.refresh_from_db()
    assert record.caption == "new"


def test_update_image_service_checks_like_ingest(user):
    record = make_record(make_corpus(user))
    with pytest.raises(InvalidInput):
        services.update_image(record=record, tags=["ok", 5])
    services.update_image(record=record, tags=[], caption="")
    record.refresh_from_db()
    assert (record.tags, record.tag_text, record.caption) == ([], "", "")


# --- import sidecars and the export round trip ---------------------------------------------------


def run_import(*args) -> str:
    out = io.StringIO()
    call_command(
        "import_images", *map(str, args), "--no-progress", stdout=out, stderr=io.StringIO()
    )
    return out.getvalue()


def test_import_reads_a_metadata_csv(user, tmp_path: Path):
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    (root / "a.png").write_bytes(image_bytes(seed=1))
    (root / "sub" / "b.png").write_bytes(image_bytes(seed=2))
    (root / "metadata.csv").write_text(
        "filename,tags,caption,place\n"
        "a.png,beach;sunset,At the pier,Brighton\n"
        'sub/b.png,,"Caption, with a comma",\n'
        "nope.png,x,,\n"
    )
    output = run_import(root, "--corpus", "trip", "--owner", "alice", "--create")

    assert "Metadata for 3 file(s) from metadata.csv" in output
    assert "rejected nope.png" in output
    corpus = Corpus.objects.get(name="trip")
    a = corpus.images.get(original_filename="a.png")
    assert (a.tags, a.caption) == (["beach", "sunset"], "At the pier")
    assert a.metadata == {"source": "import", "place": "Brighton"}
    b = corpus.images.get(original_filename="b.png")
    assert (b.tags, b.caption) == ([], "Caption, with a comma")
    assert b.metadata == {"source": "import", "path": "sub/b.png"}


def test_import_reads_a_metadata_json_and_rejects_bad_entries(user, tmp_path: Path):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.png", image_bytes(seed=1))
        zf.writestr("b.png", image_bytes(seed=2))
        zf.writestr(
            "metadata.json",
            json.dumps({"a.png": {"tags": ["cat"]}, "b.png": {"caption": 7}}),
        )
    output = run_import(archive, "--corpus", "zip", "--owner", "alice", "--create")
    assert "accepted: 1" in output and "rejected b.png: Bad metadata" in output
    assert Corpus.objects.get(name="zip").images.get().tags == ["cat"]


def test_export_then_import_keeps_the_metadata(user, tmp_path: Path):
    corpus = make_corpus(user)
    ingest(
        corpus,
        {"trip.jpg": exif_jpeg(), "b.png": image_bytes(seed=2)},
        annotations={
            "trip.jpg": {"tags": ["beach", "Sea"], "caption": "pier", "metadata": {"roll": 3}},
            "b.png": {"metadata": {"nested": {"a": [1, 2]}}},
        },
    )
    archive = tmp_path / "export.zip"
    archive.write_bytes(b"".join(stream_corpus_zip(corpus)))
    manifest = json.loads(zipfile.ZipFile(archive).read("manifest.json"))
    trip = next(i for i in manifest["images"] if i["original_filename"] == "trip.jpg")
    assert trip["tags"] == ["beach", "Sea"] and trip["camera_model"] == "Canon EOS 5D"

    run_import(archive, "--corpus", "copy", "--owner", "alice", "--create")
    copy = Corpus.objects.get(name="copy")

    def facts(c):
        return sorted(
            c.images.values_list(
                "original_filename", "tags", "caption", "metadata", "taken_at", "latitude"
            ),
            key=lambda row: row[0],
        )

    assert facts(copy) == facts(corpus)
    assert copy.images.get(original_filename="trip.jpg").taken_at == datetime(
        2024, 7, 14, 15, 30, tzinfo=timezone(timedelta(hours=2))
    )
