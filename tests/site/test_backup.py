"""``manage.py backup`` and ``manage.py restore`` (crier_site/backups.py): a backup taken from
a site with content restores into a new database and data dir that answer the same searches
with the same index versions and intact files — PostgreSQL to PostgreSQL and SQLite to
PostgreSQL (SQLite to SQLite when the suite runs on SQLite); a backup taken while images are
deleted stays consistent; a damaged backup or a non-empty target is refused."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from corpora import services, trash
from corpora.models import ImageRecord
from crier_site import backups
from tests.factories import image_bytes, index_of, make_corpus
from tests.processes import app_env, database_url, manage

pytestmark = pytest.mark.django_db(transaction=True)

SUITE_VENDOR = connection.vendor
SOURCES = ["sqlite"] + (["postgresql"] if SUITE_VENDOR == "postgresql" else [])


@pytest.fixture
def new_database(tmp_path: Path):
    """Makes empty databases: PostgreSQL ones next to the test database (dropped after), or
    SQLite files; each call gives its URL."""
    made: list[str] = []

    def make(vendor: str, label: str) -> str:
        if vendor == "sqlite":
            return f"sqlite:///{tmp_path / f'{label}.sqlite3'}"
        name = f"{connection.settings_dict['NAME']}_{label}"[:63]
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return database_url({**connection.settings_dict, "NAME": name})

    yield make
    with connection.cursor() as cursor:
        for name in made:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def site(db_url: str, data_dir: Path) -> dict[str, str]:
    """The environment of a site's processes: production settings, tasks run inline."""
    env = app_env(db_url=db_url, data_dir=data_dir)
    env.update(CRIER_TASKS_SYNC="true", SECRET_KEY="backup-test-" + "x" * 50)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        manage(*args), cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=600
    )
    return done


def ok(env: dict[str, str], *args: str) -> str:
    done = run(env, *args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def searches(env: dict[str, str]) -> dict:
    code = "from tests.site.backup_scenario import searches; searches()"
    return json.loads(ok(env, "shell", "-c", code).strip().splitlines()[-1])


@pytest.mark.parametrize("source", SOURCES)
def test_a_restored_backup_answers_the_same_searches(source, new_database, tmp_path):
    target = "postgresql" if SUITE_VENDOR == "postgresql" else "sqlite"
    old = site(new_database(source, "bk_src"), tmp_path / "old")
    ok(old, "migrate", "--noinput")
    ok(old, "shell", "-c", "from tests.site.backup_scenario import populate; populate()")
    before = searches(old)
    assert before["files_intact"] and len(before["stored_files"]) > 36
    assert [before[name]["in_trash"] for name in ("holiday", "secret", "zoo")] == [1, 1, 1]
    assert all(before[name]["index_version"] for name in ("holiday", "secret", "zoo"))
    assert before["holiday"]["by_image"] and before["holiday"]["text"]["dog"]

    archive = tmp_path / "archive"
    assert "Backup of" in ok(old, "backup", str(archive))
    manifest = json.loads((archive / "manifest.json").read_text())
    assert manifest["vendor"] == source
    assert {f"media/{name}" for name in before["stored_files"]} <= set(manifest["files"])
    assert {p.split("/")[1] for p in manifest["files"] if p.startswith("indices/")} == set(
        manifest["index_versions"]
    )

    new = site(new_database(target, "bk_dst"), tmp_path / "new")
    assert "restored" in ok(new, "restore", str(archive))
    after = searches(new)
    assert after == before
    # The restored site accepts new uploads (its id sequences were moved past the restored rows).
    code = (
        "import io; from corpora import services; from corpora.models import Corpus; "
        "from tests.factories import image_bytes; c = Corpus.objects.get(name='zoo'); "
        "data = io.BytesIO(image_bytes(seed=999)); "
        "print(len(services.ingest_files(corpus=c, files=[('new.png', data)]).accepted))"
    )
    assert ok(new, "shell", "-c", code).strip().endswith("1")
    # A second restore into the now used site is refused, and changes nothing.
    again = run(new, "restore", str(archive))
    assert again.returncode != 0 and "not empty" in again.stderr


def test_rows_whose_files_go_during_the_backup_are_left_out(user, tmp_path, settings):
    settings.CRIER_ENCODER = "histogram"
    corpus = make_corpus(user)
    report = services.ingest_files(
        corpus=corpus,
        files=[(f"{i}.png", io.BytesIO(image_bytes(seed=i))) for i in range(4)],
    )
    doomed, kept = report.accepted[0], report.accepted[1:]
    services.delete_images(corpus=corpus, image_ids=[doomed.pk])  # to the trash: still backed up

    def purge_meanwhile() -> None:  # after the snapshot, before the files are copied
        trash.purge_images(records=[doomed])  # the row and its files go for good

    manifest = backups.backup(tmp_path / "archive", after_snapshot=purge_meanwhile)
    assert f"corpora.imagerecord:{doomed.pk}" in manifest.dropped
    with gzip.open(tmp_path / "archive" / backups.DATABASE_FILE, "rt") as handle:
        rows = json.load(handle)
    images = {row["pk"] for row in rows if row["model"] == "corpora.imagerecord"}
    assert images == {record.pk for record in kept}
    assert not any(doomed.file.name in path for path in manifest.files)
    for record in kept:
        assert f"media/{record.file.name}" in manifest.files
    backups.verify(tmp_path / "archive")


def test_a_damaged_backup_is_refused_before_anything_is_written(user, tmp_path, settings):
    settings.CRIER_ENCODER = "histogram"
    corpus = make_corpus(user)
    services.ingest_files(corpus=corpus, files=[("a.png", io.BytesIO(image_bytes(seed=1)))])
    archive = tmp_path / "archive"
    call_command("backup", str(archive), stdout=io.StringIO())
    record = ImageRecord.objects.get()
    damaged = archive / "media" / record.file.name
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\0")
    with pytest.raises(CommandError, match=f"media/{record.file.name}: checksum or size differs"):
        call_command("restore", str(archive), "--verify-only")
    with pytest.raises(CommandError, match="damaged, nothing was restored"):
        call_command("restore", str(archive))
    (archive / "manifest.json").unlink()
    with pytest.raises(CommandError, match=r"no manifest\.json"):
        call_command("restore", str(archive))


def test_restore_refuses_a_database_or_data_dir_that_is_in_use(user, tmp_path, settings):
    settings.CRIER_ENCODER = "histogram"
    corpus = make_corpus(user)
    services.ingest_files(corpus=corpus, files=[("a.png", io.BytesIO(image_bytes(seed=1)))])
    call_command("backup", str(tmp_path / "archive"), stdout=io.StringIO())
    with pytest.raises(CommandError, match="The database is not empty"):
        call_command("restore", str(tmp_path / "archive"))
    assert ImageRecord.objects.count() == 1


def test_backup_takes_a_new_snapshot_when_an_index_version_goes_away(user, tmp_path, settings):
    import shutil

    settings.CRIER_ENCODER = "histogram"
    corpus = make_corpus(user)
    services.ingest_files(corpus=corpus, files=[("a.png", io.BytesIO(image_bytes(seed=1)))])
    corpus.refresh_from_db()
    live = Path(settings.CRIER_INDEX_DIR) / str(corpus.pk) / index_of(corpus).version
    hidden = live.with_name("hidden")
    calls = []

    def replaced_once() -> None:
        calls.append(1)
        if len(calls) == 1:
            live.rename(hidden)  # as if a newer version had replaced it and the old one gone
        else:
            hidden.rename(live) if hidden.exists() else None

    manifest = backups.backup(tmp_path / "archive", after_snapshot=replaced_once)
    assert len(calls) == 2
    version = index_of(corpus).version
    assert manifest.index_versions == {str(corpus.pk): version}
    assert any(p.startswith(f"indices/{corpus.pk}/{version}/") for p in manifest.files)
    shutil.rmtree(tmp_path / "archive")
    assert not any(tmp_path.glob(".archive.*.partial"))


def test_an_existing_destination_is_refused(tmp_path):
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "something").write_text("x")
    with pytest.raises(CommandError, match="already exists"):
        call_command("backup", str(tmp_path / "archive"))


def test_the_rows_and_their_file_list_come_from_one_snapshot_that_blocks_no_writer(
    user, tmp_path, settings, monkeypatch
):
    """An upload committed while the backup reads is in neither the dump nor the file list,
    and is not held up by it (SQLite: the read transaction is a deferred one)."""
    import threading

    from django.db import connections

    settings.CRIER_ENCODER = "histogram"
    corpus = make_corpus(user)
    services.ingest_files(corpus=corpus, files=[("early.png", io.BytesIO(image_bytes(seed=1)))])
    listed = backups._referenced_files
    outcome: list[str] = []

    def upload_meanwhile():
        def upload() -> None:
            try:
                services.ingest_files(
                    corpus=corpus, files=[("late.png", io.BytesIO(image_bytes(seed=2)))]
                )
                outcome.append("stored")
            except Exception as exc:  # reported below
                outcome.append(repr(exc))
            finally:
                connections.close_all()

        writer = threading.Thread(target=upload)
        writer.start()
        writer.join(timeout=60)
        return listed()

    monkeypatch.setattr(backups, "_referenced_files", upload_meanwhile)
    manifest = backups.backup(tmp_path / "archive")
    assert outcome == ["stored"]
    late = ImageRecord.objects.get(original_filename="late.png")
    with gzip.open(tmp_path / "archive" / backups.DATABASE_FILE, "rt") as handle:
        names = {
            row["fields"]["original_filename"]
            for row in json.load(handle)
            if row["model"] == "corpora.imagerecord"
        }
    assert names == {"early.png"}
    assert not any(late.file.name in path for path in manifest.files)
