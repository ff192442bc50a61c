"""What uploaders say about their images: tags, a caption and a free JSON object.

One set of rules for every way in (the API's ``metadata`` upload field, ``import_images``
sidecars ``metadata.csv`` / ``metadata.json``, an export's ``manifest.json``, PATCH and the
image page): each raises ``InvalidInput`` with a message a person can act on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from crier_site.errors import InvalidInput

MAX_TAGS = 50
MAX_TAG_LENGTH = 50
MAX_CAPTION_LENGTH = 2000
MAX_DATA_BYTES = 4096
ANNOTATION_KEYS = ("tags", "caption", "metadata")
SIDECAR_NAMES = ("metadata.json", "metadata.csv")
CSV_TAG_SEPARATOR = ";"


@dataclass(frozen=True)
class Annotation:
    """Validated uploader metadata for one image; ``None`` means "not given, leave as is"."""

    tags: list[str] | None = None
    caption: str | None = None
    data: dict[str, Any] | None = None


def clean_tags(value: Any) -> list[str]:
    """A list of short strings → trimmed, de-duplicated (case-insensitively), order kept."""
    if isinstance(value, str):
        raise InvalidInput("tags must be a list of strings, not one string.", field="tags")
    if not isinstance(value, list):
        raise InvalidInput("tags must be a list of strings.", field="tags")
    tags: list[str] = []
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str):
            raise InvalidInput("Every tag must be a string.", field="tags")
        tag = " ".join(_storable(item, "tags").split())
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH or "|" in tag:
            raise InvalidInput(
                f"Tags are at most {MAX_TAG_LENGTH} characters, without '|': {tag[:60]!r}.",
                field="tags",
            )
        if tag.lower() not in seen:
            seen.add(tag.lower())
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags per image.", field="tags")
    return tags


def clean_caption(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput("caption must be a string.", field="caption")
    caption = _storable(value, "caption").strip()
    if len(caption) > MAX_CAPTION_LENGTH:
        raise InvalidInput(
            f"The caption is {len(caption)} characters; at most {MAX_CAPTION_LENGTH}.",
            field="caption",
        )
    return caption


def clean_data(value: Any) -> dict[str, Any]:
    """A JSON object of at most 4 KB (UTF-8, compact). A NUL character (U+0000) in a key or a
    string is stored as U+FFFD: PostgreSQL's jsonb cannot hold U+0000, and a schema cannot
    forbid it inside a free-form object, so the API takes it rather than refuse schema-valid
    input (docs/metadata.md)."""
    if not isinstance(value, dict):
        raise InvalidInput("metadata must be a JSON object.", field="metadata")
    value = _without_nul(value)
    try:
        # No NaN or Infinity: PostgreSQL's jsonb refuses them (the JSON standard has neither).
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        size = len(text.encode())
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"metadata is not plain JSON: {exc}", field="metadata") from None
    if size > MAX_DATA_BYTES:
        raise InvalidInput(
            f"metadata is {size} bytes as JSON; at most {MAX_DATA_BYTES}.", field="metadata"
        )
    return value


def _storable(text: str, field: str) -> str:
    """``text`` if the database can store it: PostgreSQL refuses U+0000, and UTF-8 has no
    lone surrogates (both were a 500 on upload and on PATCH)."""
    if "\x00" in text:
        raise InvalidInput(f"{field} cannot contain the NUL character (\\u0000).", field=field)
    try:
        text.encode()
    except UnicodeEncodeError:
        message = f"{field} holds an invalid character (a lone surrogate)."
        raise InvalidInput(message, field=field) from None
    return text


NUL_STORED_AS = "\ufffd"


def _without_nul(value: Any) -> Any:
    """``value`` with every U+0000 in its strings and keys replaced by NUL_STORED_AS; keys that
    would then collide are refused (nothing is silently dropped)."""
    if isinstance(value, str):
        return value.replace("\x00", NUL_STORED_AS)
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        cleaned = {_without_nul(key): _without_nul(item) for key, item in value.items()}
        if len(cleaned) != len(value):
            raise InvalidInput(
                "metadata has keys that differ only by a NUL character (\\u0000), which is "
                "stored as U+FFFD.",
                field="metadata",
            )
        return cleaned
    return value


def parse_annotation(value: Any) -> Annotation:
    """``{"tags": [...], "caption": "...", "metadata": {...}}``, every key optional."""
    if not isinstance(value, dict):
        raise InvalidInput(
            "Each file's metadata must be an object with tags, caption and/or metadata."
        )
    unknown = sorted(set(value) - set(ANNOTATION_KEYS))
    if unknown:
        raise InvalidInput(
            f"Unknown key(s) {', '.join(map(repr, unknown))}; use "
            f"{', '.join(ANNOTATION_KEYS)} (free fields go inside 'metadata')."
        )
    return Annotation(
        tags=clean_tags(value["tags"]) if "tags" in value else None,
        caption=clean_caption(value["caption"]) if "caption" in value else None,
        data=clean_data(value["metadata"]) if "metadata" in value else None,
    )


def parse_metadata_field(raw: Any) -> dict[str, Any]:
    """The API upload's ``metadata`` field: JSON text of an object filename → annotation.

    Only the outer shape is checked here (it cannot be blamed on one file); each file's
    object is checked at ingest, where a bad one rejects that file alone."""
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidInput(f"The metadata field is not valid JSON: {exc}") from None
        except RecursionError:
            raise InvalidInput("The metadata field is nested too deeply to be read.") from None
    if not isinstance(raw, dict):
        raise InvalidInput(
            'The metadata field must be a JSON object: {"<filename>": {"tags": [...], '
            '"caption": "...", "metadata": {...}}}.'
        )
    return raw


def split_tags(text: str) -> list[str]:
    """Tags typed in a form as comma-separated text (blank ones dropped); ``clean_tags``
    checks them."""
    return [tag for tag in text.split(",") if tag.strip()]


def tag_text(tags: Iterable[str]) -> str:
    """``|a|b|`` in lower case: an exact-tag filter is a plain substring test on any database."""
    words = [tag.lower() for tag in tags]
    return f"|{'|'.join(words)}|" if words else ""


# --- sidecar files of an import ------------------------------------------------------------------


def read_sidecar(name: str, data: bytes) -> dict[str, Any]:
    """``metadata.json`` (the API's shape) or ``metadata.csv`` (columns ``filename``, ``tags``
    separated by ';', ``caption``; every other column becomes a ``metadata`` field)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} is not UTF-8 text.") from None
    if name.lower().endswith(".json"):
        return parse_metadata_field(text)
    return _read_csv(name, text)


def _read_csv(name: str, text: str) -> dict[str, Any]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "filename" not in reader.fieldnames:
        raise InvalidInput(f"{name} needs a header row with a 'filename' column.")
    annotations: dict[str, Any] = {}
    for row in reader:
        filename = (row.pop("filename") or "").strip()
        if not filename:
            continue
        entry: dict[str, Any] = {}
        tags = row.pop("tags", None)
        if tags is not None:
            entry["tags"] = [tag for tag in tags.split(CSV_TAG_SEPARATOR) if tag.strip()]
        caption = row.pop("caption", None)
        if caption is not None:
            entry["caption"] = caption
        extra = {key: value for key, value in row.items() if key and value not in (None, "")}
        if extra:
            entry["metadata"] = extra
        annotations[filename] = entry
    return annotations


def annotations_from_manifest(data: bytes) -> dict[str, Any]:
    """An export's ``manifest.json`` → annotations keyed by archive member name, so an
    export → import round trip keeps tags, caption and metadata."""
    try:
        manifest = json.loads(data.decode("utf-8"))
        images = manifest["images"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"manifest.json is not an export manifest: {exc}") from None
    annotations: dict[str, Any] = {}
    for image in images if isinstance(images, list) else []:
        if isinstance(image, dict) and isinstance(image.get("file"), str):
            annotations[image["file"]] = {
                key: image[key] for key in ANNOTATION_KEYS if key in image
            }
    return annotations
