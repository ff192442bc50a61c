"""Reading images for a bulk import from a directory tree or a ZIP archive, safely.

Nothing is extracted to disk: ZIP members are read in memory, so a member named
``../../etc/x`` cannot write anywhere; such names are still refused and reported. In a
directory, symbolic links that lead outside the tree are refused.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from corpora.export import MANIFEST_NAME
from corpora.metadata import SIDECAR_NAMES, annotations_from_manifest, read_sidecar
from corpora.validation import SUFFIXES

IMAGE_SUFFIXES = frozenset(suffix for suffixes in SUFFIXES.values() for suffix in suffixes)


@dataclass(frozen=True)
class ImportItem:
    """One candidate file: its path relative to the import root and a way to read it."""

    relative_path: str
    read: Callable[[], bytes]  # raises OSError/ValueError with the reason
    refused: str = ""  # non-empty: not read at all, with the reason
    size: int | None = None  # bytes, when known before reading (reported if over the cap)


def iter_import_items(source: Path, *, max_bytes: int) -> Iterator[ImportItem]:
    if source.is_dir():
        yield from _iter_directory(source, max_bytes)
    elif zipfile.is_zipfile(source):
        yield from _iter_zip(source, max_bytes)
    else:
        raise ValueError(f"{source} is neither a directory nor a ZIP archive.")


def _iter_directory(root: Path, max_bytes: int) -> Iterator[ImportItem]:
    root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            relative = path.relative_to(root).as_posix()
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                yield ImportItem(relative, _refuse, refused="A link to a file outside the folder.")
                continue
            yield ImportItem(relative, _file_reader(path, max_bytes), size=_file_size(path))


def _iter_zip(archive: Path, max_bytes: int) -> Iterator[ImportItem]:
    with zipfile.ZipFile(archive) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if name.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if name.is_absolute() or ".." in name.parts:
                yield ImportItem(
                    info.filename, _refuse, refused="Unsafe path in the archive (outside it)."
                )
                continue
            if _is_zip_symlink(info):
                yield ImportItem(info.filename, _refuse, refused="A link, not a file.")
                continue
            if info.file_size > max_bytes:
                # Read no more than the limit + 1; the validator reports the size.
                reader = _zip_reader(archive, info, max_bytes + 1)
            else:
                reader = _zip_reader(archive, info, info.file_size)
            yield ImportItem(name.as_posix(), reader, size=info.file_size)


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


@dataclass(frozen=True)
class ImportAnnotations:
    """Uploader metadata found beside the images: a sidecar file at the root, or the
    ``manifest.json`` of a CRIER export (whose member paths are not the user's folders)."""

    by_name: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the file they came from; "" when none

    @property
    def from_export(self) -> bool:
        return self.source == MANIFEST_NAME


def read_import_annotations(source: Path) -> ImportAnnotations:
    """Annotations from ``metadata.json``/``metadata.csv`` (or an export's ``manifest.json``) at
    the root of the folder or archive; ``InvalidInput`` if such a file cannot be read."""
    names = (*SIDECAR_NAMES, MANIFEST_NAME)
    found: tuple[str, bytes] | None = None
    if source.is_dir():
        for name in names:
            path = source / name
            if path.is_file() and path.resolve().is_relative_to(source.resolve()):
                found = (name, path.read_bytes())
                break
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            members = set(zf.namelist())
            for name in names:
                if name in members:
                    found = (name, zf.read(name))
                    break
    if found is None:
        return ImportAnnotations()
    name, data = found
    if name == MANIFEST_NAME:
        return ImportAnnotations(annotations_from_manifest(data), name)
    return ImportAnnotations(read_sidecar(name, data), name)


def _file_reader(path: Path, max_bytes: int):
    def read() -> bytes:
        with path.open("rb") as handle:
            return handle.read(max_bytes + 1)

    return read


def _zip_reader(archive: Path, info: zipfile.ZipInfo, limit: int):
    def read() -> bytes:
        with zipfile.ZipFile(archive) as zf, zf.open(info) as handle:
            return handle.read(limit)

    return read


def _refuse() -> bytes:
    raise ValueError("refused")


def _is_zip_symlink(info: zipfile.ZipInfo) -> bool:
    return (info.external_attr >> 16) & 0o170000 == 0o120000
