from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from corpora.models import Corpus, CorpusStatus, ImageStatus
from tests.factories import image_bytes, index_of, truncated_jpeg

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(
        "import_images", *map(str, args), "--no-progress", stdout=out, stderr=io.StringIO()
    )
    return out.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "cats" / "tabby").mkdir(parents=True)
    (root / "dogs").mkdir()
    (root / "cats" / "a.png").write_bytes(image_bytes(seed=1))
    (root / "cats" / "tabby" / "b.jpg").write_bytes(image_bytes(seed=2, fmt="JPEG"))
    (root / "dogs" / "c.png").write_bytes(image_bytes(seed=3))
    (root / "dogs" / "copy-of-a.png").write_bytes(image_bytes(seed=1))
    (root / "dogs" / "broken.jpg").write_bytes(truncated_jpeg())
    (root / "README.txt").write_text("not an image, not even looked at")
    outside = tmp_path / "secret.png"
    outside.write_bytes(image_bytes(seed=4))
    (root / "dogs" / "link.png").symlink_to(outside)
    (root / "cats" / "inside-link.png").symlink_to(root / "dogs" / "c.png")
    return root


def test_import_a_folder_recursively_with_a_report(user, folder):
    output = run(folder, "--corpus", "pets", "--owner", "alice", "--create", "--sync")

    corpus = Corpus.objects.get(owner=user, name="pets")
    assert "accepted: 3, duplicates: 2, rejected: 2" in output
    assert "broken.jpg: The image is damaged" in output
    assert "dogs/link.png: A link to a file outside the folder" in output
    names = set(corpus.images.values_list("original_filename", flat=True))
    assert names == {"a.png", "b.jpg", "inside-link.png"}  # c.png is then its duplicate
    assert corpus.images.get(original_filename="b.jpg").metadata["path"] == "cats/tabby/b.jpg"
    corpus.refresh_from_db()
    assert corpus.status == CorpusStatus.READY and index_of(corpus).indexed_count == 3
    assert corpus.visibility == "private"


def test_import_a_zip_refuses_paths_that_escape_it(user, tmp_path):
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("album/one.png", image_bytes(seed=10))
        zf.writestr("album/deeper/two.png", image_bytes(seed=11))
        zf.writestr("../../evil.png", image_bytes(seed=12))
        zf.writestr("/abs/evil2.png", image_bytes(seed=13))
    output = run(archive, "--corpus", "zipped", "--owner", "alice", "--create", "--public")

    corpus = Corpus.objects.get(name="zipped")
    assert corpus.visibility == "public"
    assert "accepted: 2, duplicates: 0, rejected: 2" in output
    assert "Unsafe path" in output
    assert not (tmp_path.parent / "evil.png").exists() and not Path("/abs/evil2.png").exists()
    assert set(corpus.images.values_list("status", flat=True)) == {ImageStatus.PENDING}
    assert "queued" in output


def test_import_needs_an_existing_owner_and_corpus(user, folder):
    with pytest.raises(CommandError, match="No user named"):
        run(folder, "--corpus", "x", "--owner", "nobody")
    with pytest.raises(CommandError, match="--create"):
        run(folder, "--corpus", "missing", "--owner", "alice")
    with pytest.raises(CommandError, match="does not exist"):
        run(folder / "nope", "--corpus", "x", "--owner", "alice", "--create")


def test_importing_the_same_folder_twice_adds_nothing(user, folder):
    run(folder, "--corpus", "pets", "--owner", "alice", "--create", "--sync")
    output = run(folder, "--corpus", "pets", "--owner", "alice", "--sync")
    assert "accepted: 0, duplicates: 5" in output
    assert Corpus.objects.get(name="pets").images.count() == 3
