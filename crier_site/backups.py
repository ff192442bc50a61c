"""Backups of a running site and their restore into an empty one (``manage.py backup DEST``,
``manage.py restore SRC``; docs/deployment.md "Backups").

A backup is a folder:

- ``database.json.gz``: every app's rows (``dumpdata`` with natural foreign keys, primary keys
  kept), read in one snapshot: a REPEATABLE READ, read-only transaction on PostgreSQL, one read
  transaction on SQLite. Left out: what ``migrate`` recreates (content types, permissions,
  django-q's schedules) and what is only in flight (sessions, django-q's queue and task
  results; pending images are picked up again by the worker's recovery schedule). It is
  portable: a SQLite site restores into PostgreSQL.
- ``media/``: the files the snapshot's rows refer to (every ``FileField`` of every model) and
  their companions (``<stem>.*`` beside them: model inputs), copied after the snapshot.
- ``indices/<corpus>/<version>/``: each corpus's index version that the snapshot serves.
- ``manifest.json``: the format, the database vendor and migrations, and the size and SHA-256
  of every file above.

Files are copied after the snapshot, while the site keeps running, and reconciled with it: a
row whose file was deleted in between (its image was deleted after the snapshot) is dropped
from the dump together with every row that refers to it, so every row in a backup has its
files. An index version replaced and removed in between makes the backup start again from a new
snapshot (a replaced version stays 30 s, so this is rare). Files written after the snapshot
are not taken. Nothing here knows which app holds what: models, file fields and index versions
are found through Django's app registry, so moving a table between apps changes nothing.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.management import call_command
from django.db import connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder

logger = logging.getLogger(__name__)

FORMAT = 1
DATABASE_FILE = "database.json.gz"
MANIFEST_FILE = "manifest.json"
# Recreated by migrate, or only in flight: never in a backup, and allowed in the target.
EXCLUDED = ("contenttypes", "auth.permission", "sessions", "django_q")
SNAPSHOT_ATTEMPTS = 3
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup could not be taken, or a restore refused; the message says why."""


@dataclass
class Manifest:
    created_at: str
    vendor: str
    migrations: dict[str, list[str]]
    files: dict[str, dict] = field(default_factory=dict)  # archive path -> {bytes, sha256}
    index_versions: dict[str, str] = field(default_factory=dict)  # corpus id -> version
    dropped: list[str] = field(default_factory=list)  # "app.model:pk" rows left out
    format: int = FORMAT

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True)

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST_FILE
        if not path.is_file():
            raise BackupError(f"{folder} is not a backup: it has no {MANIFEST_FILE}.")
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise BackupError(f"Backup format {data.get('format')} is not {FORMAT}.")
        return cls(**data)


# --- taking a backup ---------------------------------------------------------------------------


def backup(dest: Path, *, after_snapshot: Callable[[], None] | None = None) -> Manifest:
    """Write a consistent backup of the database, media files and live indices into ``dest``
    (which must not exist yet). ``after_snapshot`` runs between the snapshot and the file
    copies (tests use it to change the site meanwhile)."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} already exists and is not empty.")
    partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            manifest = _attempt(partial, after_snapshot)
            if manifest is not None:
                break
            logger.warning("An index version went away during backup attempt %s", attempt)
        else:
            raise BackupError(
                f"Index versions kept being replaced during {SNAPSHOT_ATTEMPTS} attempts; "
                "try again when fewer uploads are being indexed."
            )
        (partial / MANIFEST_FILE).write_text(manifest.to_json())
        _fsync_tree(partial)
        if dest.exists():
            dest.rmdir()
        os.replace(partial, dest)
        return manifest
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _attempt(folder: Path, after_snapshot: Callable[[], None] | None) -> Manifest | None:
    dump = folder / DATABASE_FILE
    with _snapshot():
        call_command(
            "dumpdata",
            exclude=list(EXCLUDED),
            natural_foreign=True,
            use_base_manager=True,  # every row, also those a default manager hides (the trash)
            output=str(dump),
            verbosity=0,
        )
        referenced = _referenced_files()
        versions = _index_versions()
        manifest = Manifest(
            created_at=datetime.now(UTC).isoformat(),
            vendor=connection.vendor,
            migrations=_applied_migrations(),
            index_versions={str(corpus): version for corpus, version in versions.items()},
        )
    if after_snapshot is not None:
        after_snapshot()
    # Index versions first: a replaced one is removed 30 s after its replacement.
    index_root = Path(settings.CRIER_INDEX_DIR)
    for corpus, version in versions.items():
        source = index_root / str(corpus) / version
        try:
            _copy_tree(source, folder / "indices" / str(corpus) / version, manifest)
        except FileNotFoundError:
            return None
    missing = _copy_media(referenced, folder, manifest)
    if missing:
        manifest.dropped = _drop_rows(dump, missing)
        for path in missing:
            logger.info("Left out of the backup (deleted after the snapshot): %s", path)
    manifest.files[DATABASE_FILE] = _digest(dump)
    return manifest


@contextlib.contextmanager
def _snapshot() -> Iterator[None]:
    """Every read inside sees the database as it was at the first one.

    PostgreSQL: a REPEATABLE READ, READ ONLY transaction. SQLite (WAL): a deferred read
    transaction, begun by hand because the site's transactions are IMMEDIATE ones, which would
    hold the write lock, and so stop every upload, for as long as the dump takes. Inside a
    transaction already begun (tests), that one is used."""
    if connection.in_atomic_block:
        yield
        return
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("COMMIT")  # it only read
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _dumped_models() -> list[type[models.Model]]:
    """The concrete models ``dumpdata`` writes with ``EXCLUDED`` left out."""
    chosen = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        if meta.app_label in EXCLUDED or meta.label_lower in EXCLUDED:
            continue
        chosen.append(model)
    return chosen


def _file_fields(model: type[models.Model]) -> list[models.FileField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]


def _referenced_files() -> dict[str, list[tuple[str, object]]]:
    """Every stored file name a row refers to -> the rows ("app.model", pk) that do."""
    referenced: dict[str, list[tuple[str, object]]] = {}
    for model in _dumped_models():
        fields = _file_fields(model)
        if not fields:
            continue
        names = [f.attname for f in fields]
        for pk, *values in model._base_manager.values_list("pk", *names).iterator():
            for value in values:
                if value:
                    referenced.setdefault(value, []).append((model._meta.label_lower, pk))
    return referenced


def _index_versions() -> dict[int, str]:
    """The live index version of each corpus, wherever it is stored: a field ``index_version``
    on the corpus, or ``index_version`` / ``version`` on a model with a one-to-one ``corpus``
    link (search's ``CorpusIndex``)."""
    versions: dict[int, str] = {}
    for model in _dumped_models():
        if model._meta.label_lower == "corpora.corpus":
            key, names = "pk", ("index_version",)
        else:
            try:
                link = model._meta.get_field("corpus")
            except FieldDoesNotExist:
                continue
            if not link.one_to_one:
                continue
            key, names = link.attname, ("index_version", "version")
        for name in names:
            try:
                model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            rows = model._base_manager.exclude(**{name: ""}).values_list(key, name)
            versions.update({corpus: version for corpus, version in rows if version})
            break
    return versions


def _applied_migrations() -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        applied.setdefault(app, []).append(name)
    return {app: sorted(names) for app, names in sorted(applied.items())}


def _copy_media(
    referenced: dict[str, list[tuple[str, object]]], folder: Path, manifest: Manifest
) -> dict[str, list[tuple[str, object]]]:
    """Copy each referenced file and its companions; the referenced ones that are gone."""
    media = Path(settings.MEDIA_ROOT)
    stems: dict[PurePosixPath, set[str]] = {}
    for name in referenced:
        path = PurePosixPath(name)
        stems.setdefault(path.parent, set()).add(path.name.split(".")[0])
    wanted = set(referenced)
    for parent, names in stems.items():
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(media / parent):
                if entry.name.split(".")[0] in names and not entry.name.endswith(".tmp"):
                    wanted.add(str(parent / entry.name))
    missing = {}
    for name in sorted(wanted):
        try:
            manifest.files[f"media/{name}"] = _copy_file(media / name, folder / "media" / name)
        except FileNotFoundError:
            if name in referenced:
                missing[name] = referenced[name]
    for name in missing:  # a companion copied before its original vanished
        for path in [p for p in manifest.files if p.startswith("media/")]:
            if PurePosixPath(path[6:]).name.split(".")[0] == PurePosixPath(name).name.split(".")[0]:
                (folder / path).unlink(missing_ok=True)
                manifest.files.pop(path)
    return missing


def _drop_rows(dump: Path, missing: dict[str, list[tuple[str, object]]]) -> list[str]:
    """Rewrite the dump without the rows whose files are gone, nor the rows that refer to them
    (at any depth, through their foreign keys); the rows left out."""
    with gzip.open(dump, "rt") as handle:
        objects = json.load(handle)
    dropped = {(label, str(pk)) for rows in missing.values() for label, pk in rows}
    links = _foreign_keys()
    while True:
        more = set()
        for obj in objects:
            key = (obj["model"], str(obj.get("pk")))
            if key in dropped:
                continue
            for name, target in links.get(obj["model"], ()):
                value = obj["fields"].get(name)
                if value is not None and (target, str(value)) in dropped:
                    more.add(key)
        if not more:
            break
        dropped |= more
    kept = [obj for obj in objects if (obj["model"], str(obj.get("pk"))) not in dropped]
    with gzip.open(dump, "wt") as handle:
        json.dump(kept, handle)
    return sorted(f"{label}:{pk}" for label, pk in dropped)


def _foreign_keys() -> dict[str, list[tuple[str, str]]]:
    """For each dumped model: (field name, target model) of each foreign key / one-to-one."""
    links: dict[str, list[tuple[str, str]]] = {}
    for model in _dumped_models():
        for f in model._meta.concrete_fields:
            if f.is_relation and (f.many_to_one or f.one_to_one):
                links.setdefault(model._meta.label_lower, []).append(
                    (f.name, f.related_model._meta.label_lower)
                )
    return links


# --- restoring ---------------------------------------------------------------------------------


def verify(source: Path) -> Manifest:
    """Check every file of the backup against its manifest; the manifest, or ``BackupError``
    naming what is missing or damaged."""
    source = Path(source)
    manifest = Manifest.read(source)
    if DATABASE_FILE not in manifest.files:
        raise BackupError(f"The manifest does not list {DATABASE_FILE}.")
    bad = []
    for path, expected in sorted(manifest.files.items()):
        try:
            found = _digest(source / path)
        except FileNotFoundError:
            bad.append(f"{path}: missing")
            continue
        if found != expected:
            bad.append(f"{path}: checksum or size differs")
    if bad:
        shown = "; ".join(bad[:10]) + (f"; and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise BackupError(f"The backup is damaged, nothing was restored: {shown}.")
    return manifest


def restore(source: Path) -> Manifest:
    """Bring a backup back into an empty database and empty media and index directories:
    checksums first, then the schema (``migrate``), the files, and the rows in one transaction."""
    source = Path(source)
    manifest = verify(source)
    call_command("migrate", interactive=False, verbosity=0)
    _check_empty()
    media, index_root = Path(settings.MEDIA_ROOT), Path(settings.CRIER_INDEX_DIR)
    for path, expected in manifest.files.items():
        top, _, rest = path.partition("/")
        target = {"media": media, "indices": index_root}.get(top)
        if target is None:
            continue
        if _copy_file(source / path, target / rest) != expected:
            raise BackupError(f"{path} changed while it was being restored.")
    call_command("loaddata", str(source / DATABASE_FILE), verbosity=0)
    return manifest


def _check_empty() -> None:
    used = [model._meta.label for model in _dumped_models() if model._base_manager.exists()]
    if used:
        raise BackupError(
            "The database is not empty (" + ", ".join(used[:5]) + "): restore only into a new "
            "database (migrate is run for you)."
        )
    for directory in (Path(settings.MEDIA_ROOT), Path(settings.CRIER_INDEX_DIR)):
        if directory.is_dir() and any(p.is_file() for p in directory.rglob("*")):
            raise BackupError(f"{directory} holds files: restore only into an empty data dir.")


# --- files -------------------------------------------------------------------------------------


def _digest(path: Path) -> dict:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return {"bytes": size, "sha256": sha.hexdigest()}


def _copy_file(source: Path, target: Path) -> dict:
    """Copy ``source`` to ``target`` (folders made), hashing what was written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256()
    size = 0
    with open(source, "rb") as reader, open(target, "wb") as writer:
        while chunk := reader.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
            writer.write(chunk)
    shutil.copystat(source, target, follow_symlinks=False)
    return {"bytes": size, "sha256": sha.hexdigest()}


def _copy_tree(source: Path, target: Path, manifest: Manifest) -> None:
    if not source.is_dir():
        raise FileNotFoundError(source)
    folder = target.parents[2]  # <backup>/indices/<corpus>/<version>
    for path in sorted(source.rglob("*")):
        if path.is_file():
            copied = target / path.relative_to(source)
            manifest.files[copied.relative_to(folder).as_posix()] = _copy_file(path, copied)


def _fsync_tree(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        with contextlib.suppress(FileNotFoundError):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
