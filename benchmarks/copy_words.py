"""Candidates from the stored local features' visual words, measured against the CNN's (the
experiment of docs/copies.md "Candidates from the local features"; not what the service does).

    .venv/bin/python benchmarks/copy_words.py --dataset copies [--seed 0]
    .venv/bin/python benchmarks/copy_words.py --dataset copies-heldout --seed 1
        [--words 1024] [--depth 20] [--extra 10] [--cache-dir var/copy-words-cache]

It runs ``manage.py evaluate``'s copy evaluation once (which fills ``--cache-dir`` with the
views' vectors and the local features), then reads those caches back and compares, at the same
number of verifications a query (the newest caches of the set in ``--cache-dir``: keep a folder
for this script, so they are those of the code as it is), the CNN's first ``depth + extra``
candidates with the CNN's first ``depth`` followed by the first ``extra`` of a bag-of-words
ranking not among them.

The vocabulary: k-means (k-means++, ``cv2.kmeans``) of the SIFT descriptors, as the service
stores them, of pictures the sets never use as targets (60 synthetic renderings of
``copies_set.unrelated_picture`` at seeds ``[99, i]``, scikit-image's horse, logo, phantom and
chessboard, matplotlib's logo2), made once into ``--cache-dir``. One tf-idf vector per feature
set (a picture's whole and each of its boxes); an image scores its best set-to-set cosine.
"""

from __future__ import annotations

import argparse
import glob
import os
import pickle
from pathlib import Path

import numpy as np
from bootstrap import ROOT, setup_django


def vocabulary(words: int, cache_dir: Path) -> np.ndarray:
    import cv2
    import matplotlib
    import skimage
    from PIL import Image

    from search.copies import local
    from search.evaluation.copies_set import unrelated_picture

    path = cache_dir / f"copy-words-{local.FORMAT}-{words}.npy"
    if path.is_file():
        return np.load(path)
    pictures = [unrelated_picture(np.random.default_rng([99, i]), (512, 400)) for i in range(60)]
    data = Path(skimage.__file__).parent / "data"
    pictures += [
        Image.open(data / name).convert("RGB")
        for name in ("horse.png", "logo.png", "phantom.png", "chessboard_RGB.png")
    ]
    samples = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data"
    pictures.append(Image.open(samples / "logo2.png").convert("RGB"))
    descriptors = np.concatenate([local.extract(p).descriptors for p in pictures])
    criteria = (cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, 20, 0.5)
    _, _, centres = cv2.kmeans(
        descriptors.astype(np.float32), words, None, criteria, 1, cv2.KMEANS_PP_CENTERS
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, centres)
    return centres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="copies", choices=("copies", "copies-heldout"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--words", type=int, default=1024)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--extra", type=int, default=10)
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "var" / "copy-words-cache")
    args = parser.parse_args()
    setup_django()
    from django.core.management import call_command

    from search.copies import local
    from search.copies.candidates import best_per_image
    from search.evaluation import metrics
    from search.evaluation.copies_set import DISTRACTOR, copy_set

    call_command(
        "evaluate", dataset=args.dataset, seed=args.seed, cache_dir=args.cache_dir,
        no_progress=True, out=ROOT / "var" / "evaluation" / f"words-{args.dataset}-{args.seed}",
    )  # fmt: skip
    copies = copy_set(part="tune" if args.dataset == "copies" else "heldout", seed=args.seed)

    def newest(suffix: str):  # the caches the evaluation just used or made
        found = glob.glob(str(args.cache_dir / f"{copies.key}--*{suffix}"))
        with open(max(found, key=os.path.getmtime), "rb") as handle:
            return pickle.load(handle)

    i_vec, i_owner, _, _ = newest(".index.pkl")
    q_vec, q_owner, _, _ = newest(".query.pkl")
    stored = [local.unpack_sets(blob) for blob in newest(".local.pkl")]
    asked = [local.query_sets(sets) for sets in stored]

    centres = vocabulary(args.words, args.cache_dir).astype(np.float32)
    norms = (centres**2).sum(axis=1)
    bags, owners = [], []
    for row, sets in enumerate(stored):
        for features in sets:
            d = features.descriptors.astype(np.float32)
            ids = np.argmin(norms[None, :] - 2 * d @ centres.T, axis=1) if len(d) else []
            bags.append(np.bincount(np.asarray(ids, int), minlength=args.words))
            owners.append(row)
    counts, owner = np.asarray(bags, np.float32), np.asarray(owners)
    idf = np.log(len(counts) / (1 + (counts > 0).sum(axis=0))).astype(np.float32)
    tfidf = counts * idf
    tfidf /= np.linalg.norm(tfidf, axis=1, keepdims=True) + 1e-9
    similar = tfidf @ tfidf.T

    labels = np.asarray(
        [it.target if it.version != DISTRACTOR else -1 - r for r, it in enumerate(copies.items)]
    )
    queries = [r for r, it in enumerate(copies.items) if it.version != DISTRACTOR]
    depth, extra = args.depth, args.extra
    ranked: dict[str, list[list[int]]] = {"cnn": [], "cnn+words": []}
    false, reached = {"cnn": 0, "cnn+words": 0}, {"cnn": 0, "cnn+words": 0}
    verified: dict[tuple[int, int], bool] = {}
    for row in queries:
        pair = q_vec[q_owner == row] @ i_vec.T
        best = best_per_image(np.broadcast_to(i_owner, pair.shape).ravel(), pair.ravel())
        best.pop(row, None)
        cnn = sorted(best, key=lambda r: (-best[r], r))
        mine = similar[owner == row]
        by_words = best_per_image(np.broadcast_to(owner, mine.shape).ravel(), mine.ravel())
        by_words.pop(row, None)
        words_first = [r for r in sorted(by_words, key=lambda r: (-by_words[r], r))]
        relevant = set(np.flatnonzero(labels == labels[row]).tolist()) - {row}
        plans = {
            "cnn": cnn[: depth + extra],
            "cnn+words": cnn[:depth] + [r for r in words_first if r not in cnn[:depth]][:extra],
        }
        for mode, shortlist in plans.items():
            for target in shortlist:
                if (row, target) not in verified:
                    verified[(row, target)] = (
                        local.best_match(asked[row], stored[target]) is not None
                    )
            found = [t for t in shortlist if verified[(row, t)]]
            false[mode] += sum(labels[t] != labels[row] for t in found)
            reached[mode] += len(relevant & set(shortlist))
            rest = [r for r in cnn if r not in set(found)]
            ranked[mode].append((found + rest)[:8])
    versions = [copies.items[r].version for r in queries]
    for mode, lists in ranked.items():
        aps = np.asarray(
            [
                metrics.apk({int(r) for r in np.flatnonzero(labels == labels[q]) if r != q}, f, 8)
                for q, f in zip(queries, lists, strict=True)
            ]
        )
        per = {v: round(float(aps[[x == v for x in versions]].mean()), 3) for v in set(versions)}
        print(
            f"{mode}: mAP@8 {aps.mean():.3f}, {false[mode]} false copies, "
            f"{reached[mode]} relevant pairs among the verified candidates; {per}"
        )


if __name__ == "__main__":
    main()
