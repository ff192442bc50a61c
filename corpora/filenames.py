"""Cleaning of names and short texts that come from uploads: one copy of the rules."""

from __future__ import annotations

from pathlib import PurePosixPath

MAX_NAME_LENGTH = 255


def printable(text: str) -> str:
    """``text`` without control or other unprintable characters, stripped."""
    return "".join(ch for ch in text if ch.isprintable()).strip()


def base_name(path: str) -> str:
    """The last part of a path given with ``/`` or ``\\`` separators, printable only."""
    return printable((path or "").replace("\\", "/").rsplit("/", 1)[-1])


def display_name(filename: str) -> str:
    """The name shown to people: the last path part, printable, bounded, never empty."""
    return (base_name(filename) or "unnamed")[:MAX_NAME_LENGTH]


def beside(stored_name: str, suffix: str) -> str:
    """A file stored next to ``stored_name``, its extension replaced by ``suffix``:
    ``beside("corpora/7/<uuid>.jpg", ".thumb.webp")`` → ``corpora/7/<uuid>.thumb.webp``."""
    path = PurePosixPath(stored_name)
    return str(path.with_name(path.stem + suffix))


def ascii_header_name(name: str) -> str:
    """``name`` safe inside a quoted ``Content-Disposition`` filename: ASCII, printable,
    without quotes or backslashes (each other character becomes ``_``)."""
    return "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_" for ch in name
    )
