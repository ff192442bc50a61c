"""How well text search finds images by the word for what they show (docs/evaluation.md, "Text
search"): the labels an encoder predicts are stored on records as the encoding job stores them,
and ``search.text.ranking.text_search`` — the service the API and pages call — is asked for each
subject's word. A query succeeds when a right image is among the first ``top`` hits.

Two labelled sets ship with the project:

- **scikit-image's sample photos**: each has one known subject, named below by the word a
  person would type for it, chosen from the photo (before looking at any prediction), whether or
  not ImageNet-1k has a class for it. The corpus is all of them; one query per photo.
- **Fashion-MNIST**: a query per class, the class's name mapped to the ImageNet-1k word for the
  same garment where one exists ("Trouser" → "jeans", "Ankle boot" → "boot"), and the class's
  own name as well. ``repeats`` corpora of ``per_class`` images per class, disjoint, each
  queried; precision in the first ``top`` hits is averaged over them.

Records get neutral file names (``photo-07.png``), so only labels can find them. Everything is
written inside one transaction that is rolled back: nothing stays in the database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from django.db import transaction
from PIL import Image
from tqdm import tqdm

# The subject of each sample photo (corpora.examples.EXAMPLE_FILES), as a person would type it,
# and whether ImageNet-1k has a class whose names say it (e.g. "wall clock" for "clock").
SAMPLE_SUBJECTS: dict[str, tuple[str, bool]] = {
    "astronaut.png": ("astronaut", False),
    "brick.png": ("brick wall", False),
    "camera.png": ("camera", True),  # a cameraman behind a camera on a tripod
    "cell.png": ("cells", False),
    "chelsea.png": ("cat", True),
    "clock_motion.png": ("clock", True),
    "coffee.png": ("coffee", True),
    "coins.png": ("coins", False),
    "color.png": ("colour chart", False),
    "grass.png": ("grass", False),
    "gravel.png": ("gravel", False),
    "horse.png": ("horse", True),
    "hubble_deep_field.jpg": ("galaxies", False),
    "ihc.png": ("tissue", False),
    "logo.png": ("logo", False),
    "moon.png": ("moon", False),
    "motorcycle_left.png": ("motorcycle", False),
    "page.png": ("text", False),
    "retina.jpg": ("retina", False),
    "rocket.jpg": ("rocket", False),
    "text.png": ("text", False),
}
# Fashion-MNIST's classes → the ImageNet-1k word for the same thing ("sneaker" is a class,
# "jeans" the closest to trousers, "gown" to a dress, "sweatshirt" to a pullover).
FASHION_MNIST_WORDS: dict[str, str] = {
    "T-shirt/top": "T-shirt",
    "Trouser": "jeans",
    "Pullover": "sweatshirt",
    "Dress": "gown",
    "Coat": "coat",
    "Sandal": "sandal",
    "Shirt": "shirt",
    "Sneaker": "sneaker",
    "Bag": "bag",
    "Ankle boot": "boot",
}


@dataclass(frozen=True)
class Item:
    """One image of an evaluation corpus: its neutral name, predicted labels and truth."""

    name: str
    labels: list[dict[str, Any]]
    truth: str


@dataclass(frozen=True)
class Answer:
    q: str
    truths: list[str]  # the truth of each of the first ``top`` hits, best first
    matched: int  # hits in all (up to the search's depth)


def predict_labels(
    images: Sequence[Callable[[int | None], Image.Image]],
    encoder: Any,
    *,
    progress: bool = True,
    desc: str = "labels",
) -> list[list[dict[str, Any]]]:
    """The top labels of each image as the encoding job stores them (same decode scale, same
    preprocessing, same forward pass). ``images``: loaders taking the decode side."""
    from search.encoders.labels import TOP_LABELS, describe_labels

    out: list[list[dict[str, Any]]] = []
    batch_size = max(1, int(encoder.batch_size))
    with tqdm(total=len(images), desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for start in range(0, len(images), batch_size):
            loaders = images[start : start + batch_size]
            batch = np.stack([encoder.preprocess(load(encoder.decode_side)) for load in loaders])
            _, predicted = encoder.encode_and_classify_batch(batch, TOP_LABELS)
            out += describe_labels(predicted, len(loaders))
            bar.update(len(loaders))
    return out


def cached_labels(
    key: str,
    images: Sequence[Callable[[int | None], Image.Image]],
    encoder: Any,
    *,
    cache_dir: Path,
    progress: bool = True,
) -> list[list[dict[str, Any]]]:
    """:func:`predict_labels`, kept in ``cache_dir`` per image set and encoder fingerprint."""
    import hashlib

    digest = hashlib.sha1(f"{key}\0{encoder.fingerprint}".encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"text-labels--{key}--{encoder.name}--{digest}.json"
    if path.is_file():
        labels = json.loads(path.read_text())
        if len(labels) == len(images):
            return labels
    labels = predict_labels(images, encoder, progress=progress, desc=f"{encoder.name} · {key}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(labels))
    os.replace(tmp, path)
    return labels


def ask(items: Sequence[Item], queries: Iterable[str], *, top: int) -> list[Answer]:
    """Store ``items`` as a corpus, ask ``text_search`` each query, roll everything back."""
    from django.contrib.auth import get_user_model

    from corpora.models import Corpus, ImageRecord
    from search.encoders.labels import label_text
    from search.models import ImageVector
    from search.queries.params import Page
    from search.text.ranking import text_search

    answers: list[Answer] = []
    with transaction.atomic():
        owner = get_user_model().objects.create(username="crier-text-evaluation", is_active=False)
        corpus = Corpus.objects.create(owner=owner, name="text evaluation", encoder="none")
        records = ImageRecord.objects.bulk_create(
            ImageRecord(
                corpus=corpus,
                file=f"evaluation/{item.name}",
                original_filename=item.name,
                sha256=f"{n:064x}",
                width=1,
                height=1,
                format="PNG",
                byte_size=1,
                status="encoded",
            )
            for n, item in enumerate(items)
        )
        ImageVector.objects.bulk_create(
            ImageVector(
                image=record,
                corpus=corpus,
                encoder=corpus.encoder,
                fingerprint="evaluation",
                status="encoded",
                labels=item.labels,
                label_text=label_text(item.labels),
            )
            for record, item in zip(records, items, strict=True)
        )
        truth_of = {record.pk: item.truth for record, item in zip(records, items, strict=True)}
        corpora = Corpus.objects.filter(pk=corpus.pk)
        for q in queries:
            every = text_search(corpora=corpora, q=q, page=Page(k=100))
            answers.append(
                Answer(
                    q=q,
                    truths=[truth_of[hit.record_id] for hit in every.hits[:top]],
                    matched=len(every.hits) + (1 if every.has_more else 0),
                )
            )
        transaction.set_rollback(True)
    return answers


def sample_photo_items(encoder: Any, *, cache_dir: Path, progress: bool = True) -> list[Item]:
    from corpora.examples import sample_photo_path

    names = [name for name in SAMPLE_SUBJECTS if sample_photo_path(name).is_file()]
    loaders = [partial(_open_photo, sample_photo_path(name)) for name in names]
    labels = cached_labels(
        f"samples-{len(names)}", loaders, encoder, cache_dir=cache_dir, progress=progress
    )
    return [
        Item(name=f"photo-{n:02d}.png", labels=entries, truth=name)
        for n, (name, entries) in enumerate(zip(names, labels, strict=True))
    ]


def evaluate_sample_photos(
    encoder: Any, *, top: int, cache_dir: Path, progress: bool = True
) -> dict[str, Any]:
    """One query per sample photo: its subject; success when the photo is in the first
    ``top`` hits."""
    items = sample_photo_items(encoder, cache_dir=cache_dir, progress=progress)
    queries = [SAMPLE_SUBJECTS[item.truth][0] for item in items]
    answers = ask(items, dict.fromkeys(queries), top=top)
    answer_of = {answer.q: answer for answer in answers}
    rows = []
    for item in items:
        subject, in_imagenet = SAMPLE_SUBJECTS[item.truth]
        answer = answer_of[subject]
        # "text" names two photos (page.png, text.png): either is right for its own row.
        rank = answer.truths.index(item.truth) + 1 if item.truth in answer.truths else None
        rows.append({
            "photo": item.truth,
            "query": subject,
            "imagenet_word": in_imagenet,
            "rank": rank,
            "matched": answer.matched,
            "top_label": item.labels[0] if item.labels else None,
        })  # fmt: skip
    named = [row for row in rows if row["imagenet_word"]]
    return {
        "photos": len(rows),
        "top": top,
        "success": _share(row["rank"] is not None for row in rows),
        "success_imagenet_words": _share(row["rank"] is not None for row in named),
        "imagenet_words": len(named),
        "rows": rows,
    }


def evaluate_fashion_mnist(
    encoder: Any,
    *,
    per_class: int,
    repeats: int,
    top: int,
    cache_dir: Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Per class, two queries (its ImageNet word and its own name) in each of ``repeats``
    disjoint corpora of ``per_class`` images per class: precision among the first ``top`` hits
    (an empty answer scores 0) and how often a right image is among them."""
    from search.evaluation.datasets import fashion_mnist

    dataset = fashion_mnist(limit_per_class=per_class * repeats)
    loaders = [partial(_dataset_image, dataset, row) for row in range(len(dataset))]
    labels = cached_labels(
        dataset.cache_key, loaders, encoder, cache_dir=cache_dir, progress=progress
    )
    classes = dataset.class_names
    seen = dict.fromkeys(range(len(classes)), 0)
    corpus_of = []
    for label in dataset.labels:  # the n-th image of a class goes to corpus n // per_class
        corpus_of.append(seen[int(label)] // per_class)
        seen[int(label)] += 1
    per_query: dict[str, dict[str, list[float]]] = {}
    for repeat in range(repeats):
        rows = [row for row in range(len(dataset)) if corpus_of[row] == repeat]
        items = [
            Item(
                name=f"item-{n:05d}.png",
                labels=labels[row],
                truth=classes[int(dataset.labels[row])],
            )
            for n, row in enumerate(rows)
        ]
        queries = [q for name in classes for q in (FASHION_MNIST_WORDS[name], name)]
        for answer in ask(items, dict.fromkeys(queries), top=top):
            scores = per_query.setdefault(answer.q, {"precision": [], "success": []})
            for name in classes:
                if answer.q in (FASHION_MNIST_WORDS[name], name):
                    right = sum(truth == name for truth in answer.truths)
                    scores["precision"].append(right / top)
                    scores["success"].append(float(right > 0))
    rows = []
    for name in classes:
        word = FASHION_MNIST_WORDS[name]
        rows.append({
            "class": name,
            "word": word,
            "precision": float(np.mean(per_query[word]["precision"])),
            "precision_std": float(np.std(per_query[word]["precision"])),
            "success": float(np.mean(per_query[word]["success"])),
            "name_precision": float(np.mean(per_query[name]["precision"])),
            "name_success": float(np.mean(per_query[name]["success"])),
        })  # fmt: skip
    return {
        "per_class": per_class,
        "repeats": repeats,
        "top": top,
        "precision": float(np.mean([row["precision"] for row in rows])),
        "success": float(np.mean([row["success"] for row in rows])),
        "name_precision": float(np.mean([row["name_precision"] for row in rows])),
        "name_success": float(np.mean([row["name_success"] for row in rows])),
        "rows": rows,
    }


def _open_photo(path: Path, side: int | None) -> Image.Image:
    from search.encoding.preprocessing import open_image

    return open_image(path, min_side=side)


def _dataset_image(dataset: Any, row: int, side: int | None) -> Image.Image:
    return dataset.image(row, min_side=side)


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def markdown(results: dict[str, Any]) -> str:
    """The two tables of docs/evaluation.md's text-search section."""
    top = results["top"]
    lines = [f"Encoder {results['encoder']} ({results['database']}), top {top}.", ""]
    samples = results.get("samples")
    if samples:
        lines += [
            f"scikit-image sample photos: {samples['photos']} photos, one query each — the "
            f"photo is in the first {top} hits for {samples['success']:.0%} of them; for the "
            f"{samples['imagenet_words']} subjects ImageNet-1k has a word for, "
            f"{samples['success_imagenet_words']:.0%}.",
            "",
            "| photo | query | ImageNet word | rank | hits | top label |",
            "|---|---|---|---|---|---|",
        ]
        for row in samples["rows"]:
            label = row["top_label"]
            shown = f"{label['label']} ({label['probability']:.2f})" if label else "—"
            lines.append(
                f"| {row['photo']} | {row['query']} | {'yes' if row['imagenet_word'] else 'no'} "
                f"| {row['rank'] or '—'} | {row['matched']} | {shown} |"
            )
        lines.append("")
    fashion = results.get("fashion_mnist")
    if fashion:
        lines += [
            f"Fashion-MNIST: {fashion['repeats']} corpora of {fashion['per_class']} images per "
            f"class; precision among the first {top} hits (mean over corpora), and how often at "
            f"least one of them is right. ImageNet word: P@{top} {fashion['precision']:.3f}, "
            f"success {fashion['success']:.0%}; class name: P@{top} "
            f"{fashion['name_precision']:.3f}, success {fashion['name_success']:.0%}.",
            "",
            f"| class | ImageNet word | P@{top} | ± | success | class name P@{top} | "
            "class name success |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in fashion["rows"]:
            lines.append(
                f"| {row['class']} | {row['word']} | {row['precision']:.3f} | "
                f"{row['precision_std']:.3f} | {row['success']:.0%} | "
                f"{row['name_precision']:.3f} | {row['name_success']:.0%} |"
            )
    return "\n".join(lines) + "\n"
