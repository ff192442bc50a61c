"""Uploads and deletions when the server is in trouble (issue #25 items 1 and 3): a disk that
fills up or turns read-only, a database that goes away, one file that breaks the code. Each
request answers with what was stored and what was not (never a bare 500), leaves no partial
file, and what it stored is encoded later without a new request."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import OperationalError
from django.urls import reverse
from rest_framework.test import APIClient

from corpora import cleanup, services, thumbnails, trash
from corpora.models import CorpusStatus, ImageRecord, ImageStatus
from corpora.storage import AtomicFileSystemStorage
from search.encoding import model_inputs, recovery
from tests.api_helpers import error_of, upload_file
from tests.factories import image_bytes, index_of, make_corpus

pytestmark = pytest.mark.django_db

FILES = 5


def media_files() -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def stored_files(corpus) -> list[Path]:
    names = [n for r in corpus.images.all() for n in (r.file.name, r.thumbnail.name) if n]
    return sorted(Path(settings.MEDIA_ROOT) / name for name in names)


@pytest.fixture
def disk_fails_after(monkeypatch):
    """``disk_fails_after(n, code)``: the first ``n`` file writes succeed; each later one writes
    a part of its bytes, then fails with OSError ``code`` (ENOSPC: full, EROFS: read-only)."""

    def arm(writes: int, code: int = errno.ENOSPC) -> None:
        chunks = ContentFile.chunks
        done = []

        def failing_chunks(self, chunk_size=None):
            if len(done) >= writes:
                yield self.read(7)  # a partial file, as a real full disk leaves one
                raise OSError(code, errno.errorcode[code])
            done.append(1)
            yield from chunks(self, chunk_size)

        monkeypatch.setattr(ContentFile, "chunks", failing_chunks)

    return arm


def upload(client, corpus, count: int = FILES):
    files = [upload_file(f"{i}.png", image_bytes(seed=i)) for i in range(count)]
    url = reverse("api:image-list", args=[corpus.pk])
    return client.post(url, {"images": files}, format="multipart")


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_disk_filling_up_midway_answers_what_was_stored_and_leaves_no_partial_file(
    api, user, disk_fails_after
):
    corpus = make_corpus(user)
    disk_fails_after(2 * 2)  # two images, each with its thumbnail, then the disk is full

    response = upload(api, corpus)

    assert response.status_code == 202, response.content
    body = response.json()
    assert [a["filename"] for a in body["accepted"]] == ["0.png", "1.png"]
    assert [r["filename"] for r in body["rejected"]] == ["2.png", "3.png", "4.png"]
    assert all("disk is full" in r["error"] for r in body["rejected"])
    assert media_files() == stored_files(corpus)  # no partial file, no .tmp
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.INDEXING
    assert corpus.images.filter(status=ImageStatus.PENDING).count() == 2


def test_a_full_disk_before_anything_is_stored_answers_507_with_what_to_do(
    api, user, disk_fails_after
):
    corpus = make_corpus(user)
    disk_fails_after(0)

    response = upload(api, corpus, count=3)

    assert response.status_code == 507
    error = error_of(response)
    assert error["code"] == "insufficient_storage"
    assert "free space" in error["message"] and "later" in error["message"]
    assert response["Retry-After"] == str(error["retry_after_seconds"])
    assert [r["filename"] for r in error["rejected"]] == ["0.png", "1.png", "2.png"]
    assert media_files() == [] and not corpus.images.exists()


def test_a_read_only_disk_answers_503(api, user, disk_fails_after):
    corpus = make_corpus(user)
    disk_fails_after(0, errno.EROFS)

    response = upload(api, corpus, count=2)

    assert response.status_code == 503
    assert error_of(response)["code"] == "unavailable"
    assert "read-only" in error_of(response)["message"]
    assert "Retry-After" in response
    assert media_files() == []


def test_the_upload_page_shows_the_full_disk_with_507(client, user, disk_fails_after):
    corpus = make_corpus(user)
    client.force_login(user)
    disk_fails_after(0)
    files = [upload_file("a.png", image_bytes(seed=1))]
    response = client.post(reverse("corpora:upload", args=[corpus.pk]), {"images": files})
    assert response.status_code == 507
    assert "disk is full" in response.content.decode()


def test_the_database_going_away_midway_is_reported_per_file(api, user, monkeypatch):
    corpus = make_corpus(user)
    save, saves = ImageRecord.save, []

    def save_until_the_database_goes(self, *args, **kwargs):
        saves.append(1)
        if len(saves) > 2:
            raise OperationalError("server closed the connection unexpectedly")
        return save(self, *args, **kwargs)

    monkeypatch.setattr(ImageRecord, "save", save_until_the_database_goes)

    response = upload(api, corpus)

    assert response.status_code == 202
    body = response.json()
    assert len(body["accepted"]) == 2 and len(body["rejected"]) == 3
    assert all("database is unavailable" in r["error"] for r in body["rejected"])
    assert media_files() == stored_files(corpus)  # the third one's files were removed


def test_one_file_that_breaks_the_code_is_rejected_alone(api, user, monkeypatch):
    corpus = make_corpus(user)
    render = thumbnails.render

    def render_fails_on_wide_images(picture):
        if picture.size[0] == 65:
            raise ValueError("a bug")
        return render(picture)

    monkeypatch.setattr(thumbnails, "render", render_fails_on_wide_images)
    files = [
        upload_file("ok.png", image_bytes(seed=1)),
        upload_file("odd.png", image_bytes(seed=2, size=(65, 48))),
        upload_file("fine.png", image_bytes(seed=3)),
    ]
    url = reverse("api:image-list", args=[corpus.pk])
    response = api.post(url, {"images": files}, format="multipart")

    assert response.status_code == 202
    body = response.json()
    assert [a["filename"] for a in body["accepted"]] == ["ok.png", "fine.png"]
    assert body["rejected"] == [
        {"filename": "odd.png", "error": "The file could not be processed (ValueError)."}
    ]


def test_images_a_dead_request_left_pending_in_a_ready_corpus_are_found_by_the_recovery(
    user, django_capture_on_commit_callbacks
):
    """The request was killed after storing (its corpus still says "ready", as before #25 the
    status was only changed after the loop): the every-minute recovery finds the images."""
    corpus = make_corpus(user, status=CorpusStatus.READY)
    files = [(f"{i}.png", io.BytesIO(image_bytes(seed=i))) for i in range(3)]
    services.ingest_files(corpus=corpus, files=files, enqueue=False)
    type(corpus).objects.filter(pk=corpus.pk).update(status=CorpusStatus.READY)

    assert recovery.stalled_corpus_ids() == [corpus.pk]
    with django_capture_on_commit_callbacks(execute=True):  # tasks run inline in the tests
        recovery.resume_stalled_indexing()

    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY and index_of(corpus).indexed_count == 3
    assert not corpus.images.filter(status=ImageStatus.PENDING).exists()


def test_a_write_that_fails_midway_leaves_no_file(tmp_path, disk_fails_after):
    tmp_path = tmp_path / "store"
    storage = AtomicFileSystemStorage(location=tmp_path)
    storage.save("a/kept.bin", ContentFile(b"x" * 100))
    disk_fails_after(0)
    with pytest.raises(OSError, match="ENOSPC"):
        storage.save("a/lost.bin", ContentFile(b"y" * 100))
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["kept.bin"]
    assert (tmp_path / "a" / "kept.bin").read_bytes() == b"x" * 100


def test_a_write_never_replaces_an_existing_file(tmp_path, monkeypatch):
    tmp_path = tmp_path / "store"
    storage = AtomicFileSystemStorage(location=tmp_path)
    first = storage.save("same.bin", ContentFile(b"first"))
    # Another process took the name between the check and the write: a new name is picked.
    available, checks = storage.get_available_name, []

    def raced(name, max_length=None):
        checks.append(name)
        return name if len(checks) == 1 else available(name, max_length)

    monkeypatch.setattr(storage, "get_available_name", raced)
    second = storage.save("same.bin", ContentFile(b"second"))
    assert len(checks) == 2
    assert first != second
    assert storage.open(first).read() == b"first" and storage.open(second).read() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first, second])


def test_files_a_read_only_disk_kept_from_removal_are_swept_once_it_is_writable(
    api, user, monkeypatch, django_capture_on_commit_callbacks
):
    """Deletes never fail on files: the row goes, its files become orphans, and the orphan
    sweep (hourly, after a grace period) removes every file no row refers to."""
    corpus = make_corpus(user)
    with django_capture_on_commit_callbacks(execute=False):
        upload(api, corpus, count=2)
    record = corpus.images.order_by("pk").first()
    left = [Path(record.file.path), Path(record.thumbnail.path)]
    url = reverse("api:image-detail", args=[corpus.pk, record.pk])
    assert api.delete(url).status_code == 204  # to the trash

    def read_only(self, name):
        raise OSError(errno.EROFS, "Read-only file system")

    with monkeypatch.context() as patch, django_capture_on_commit_callbacks(execute=True):
        patch.setattr(AtomicFileSystemStorage, "delete", read_only)
        assert trash.purge_images(records=[record]) == 1  # deleted for good
    assert not ImageRecord.all_objects.filter(pk=record.pk).exists()
    assert all(path.exists() for path in left)

    # Writable again: the sweep removes them.
    removed = cleanup.sweep_orphans(grace_seconds=0)
    assert set(left) <= set(removed)
    assert media_files() == stored_files(corpus)


def test_a_full_disk_while_writing_the_model_input_leaves_nothing_of_that_image(
    api, user, wide_histogram, monkeypatch
):
    """The last of an image's three files fails: its original and thumbnail go too."""
    import numpy as np

    corpus = make_corpus(user, encoder=wide_histogram.name)
    savez, writes = np.savez, []

    def savez_until_full(handle, **arrays):
        writes.append(1)
        if len(writes) > 1:
            handle.write(b"PK\x03\x04 half")
            raise OSError(errno.ENOSPC, "No space left on device")
        return savez(handle, **arrays)

    monkeypatch.setattr(np, "savez", savez_until_full)
    response = upload(api, corpus, count=3)

    assert response.status_code == 202
    assert len(response.json()["accepted"]) == 1
    (record,) = corpus.images.all()
    model_input = Path(settings.MEDIA_ROOT) / model_inputs.input_name(record.file.name)
    assert media_files() == sorted([*stored_files(corpus), model_input])


def test_resume_indexing_finds_what_a_dead_upload_left(user):
    corpus = make_corpus(user, status=CorpusStatus.READY)
    files = [(f"{i}.png", io.BytesIO(image_bytes(seed=i))) for i in range(2)]
    services.ingest_files(corpus=corpus, files=files, enqueue=False)
    type(corpus).objects.filter(pk=corpus.pk).update(status=CorpusStatus.READY)
    out = io.StringIO()
    call_command("resume_indexing", stdout=out)
    assert out.getvalue().startswith(f"indexing requested for 1 corpora: [{corpus.pk}]")


def test_a_broker_that_cannot_take_the_task_fails_neither_upload_nor_delete(
    api, user, monkeypatch, django_capture_on_commit_callbacks
):
    """The writes are committed when the task is enqueued: the recovery finds their work."""
    import search.signals

    enqueued = []

    def broker_down(*args, **kwargs):
        enqueued.append(args)
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(search.signals, "async_task", broker_down)
    corpus = make_corpus(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, corpus, count=2)
    assert response.status_code == 202 and len(response.json()["accepted"]) == 2
    image = response.json()["accepted"][0]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(reverse("api:image-detail", args=[corpus.pk, image]))
    assert response.status_code == 204
    assert len(enqueued) == 2
    assert recovery.stalled_corpus_ids() == [corpus.pk]
