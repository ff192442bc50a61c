"""``manage.py evaluate``: mAP@k / mAR@k of encoders and index types on a labelled image set."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.evaluation import indices, postprocess
from search.evaluation.datasets import DatasetError, load_dataset
from search.evaluation.report import markdown_table, write_report
from search.evaluation.runner import run_evaluation

COPY_SETS = {"copies": "tune", "copies-heldout": "heldout"}


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class Command(BaseCommand):
    help = (
        "Evaluate encoders and index types on a labelled image set: writes results.json, "
        "results.md and mAP@k / mAR@k plots. See docs/evaluation.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dataset", required=True,
            help="fashion-mnist, near-duplicates, copies, copies-heldout, or a folder with one "
                 "subfolder per class",
        )  # fmt: skip
        parser.add_argument("--limit-per-class", type=int, default=None,
                            help="use the first N images of each class (near-duplicates: "
                                 "the first N versions of each photo; copies: the first N "
                                 "targets)")  # fmt: skip
        parser.add_argument("--seed", type=int, default=0, help="seed of the query/index split")
        parser.add_argument(
            "--repeats",
            type=int,
            default=1,
            help="average over this many class splits (seeds seed, seed+1, ...)",
        )
        parser.add_argument("--encoders", default="efficientnet-lite0,histogram")
        parser.add_argument("--index", default="scann,exact", help="scann and/or exact")
        parser.add_argument(
            "--postprocess", default=postprocess.NONE,
            help="comma-separated variants, each steps joined by '+': "
                 + ", ".join(postprocess.names()),
        )  # fmt: skip
        parser.add_argument(
            "--k", type=int, default=None, help="largest k to score (default 25; copies: 8)"
        )
        parser.add_argument(
            "--copies", action="store_true",
            help="near-duplicates, fashion-mnist or a folder: measure it the way copy search "
                 "searches (global, candidates, verified), like the copies sets",
        )  # fmt: skip
        parser.add_argument(
            "--distractors", type=int, default=50, help="copies: unrelated pictures indexed"
        )
        parser.add_argument(
            "--depth", type=int, default=None,
            help="copies: the first candidates verified with local features per query "
                 "(default CRIER_COPY_VERIFY_DEPTH, 20)",
        )  # fmt: skip
        parser.add_argument(
            "--words-depth", type=int, default=None,
            help="copies: the visual words' first candidates not among those also verified "
                 "(default CRIER_COPY_WORDS_DEPTH; 0: none)",
        )  # fmt: skip
        parser.add_argument(
            "--out",
            type=Path,
            default=None,
            help="output folder (default DATA_DIR/evaluation/<dataset>)",
        )
        parser.add_argument(
            "--cache-dir",
            type=Path,
            default=None,
            help="vector cache (default DATA_DIR/eval-cache)",
        )
        parser.add_argument(
            "--ann-threshold",
            type=int,
            default=0,
            help="ScaNN partitions at or above this many vectors (min 1000)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, **options) -> None:
        from search.encoders import get_encoder
        from search.encoders.base import EncoderError

        encoders, index_kinds = _csv(options["encoders"]), _csv(options["index"])
        variants = _csv(options["postprocess"]) or [postprocess.NONE]
        if unknown := [i for i in index_kinds if i not in indices.INDEX_KINDS]:
            raise CommandError(f"unknown index type(s) {unknown}; choose from scann, exact")
        if not encoders or not index_kinds:
            raise CommandError("name at least one encoder and one index type")
        for variant in variants:
            if not postprocess.is_valid(variant):
                raise CommandError(f"bad --postprocess {variant!r}: {postprocess.names()}")
        if options["dataset"] in COPY_SETS or options["copies"]:
            self._copies(options, encoders)
            return
        options["k"] = options["k"] or 25
        if options["k"] < 1 or options["repeats"] < 1:
            raise CommandError("--k and --repeats must be at least 1")
        for name in encoders:
            try:
                get_encoder(name)  # loads it once, now, so a bad name fails before any work
            except EncoderError as exc:
                raise CommandError(str(exc)) from exc
        try:
            dataset = load_dataset(options["dataset"], limit_per_class=options["limit_per_class"])
        except DatasetError as exc:
            raise CommandError(str(exc)) from exc

        data_dir = Path(settings.DATA_DIR)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset.name)
        out_dir = options["out"] or data_dir / "evaluation" / slug
        results = run_evaluation(
            dataset,
            encoders=encoders,
            index_kinds=index_kinds,
            k=options["k"],
            seed=options["seed"],
            repeats=options["repeats"],
            cache_dir=options["cache_dir"] or data_dir / "eval-cache",
            postprocessing=variants,
            ann_threshold=options["ann_threshold"],
            progress=not options["no_progress"],
        )
        paths = write_report(results, out_dir)
        self.stdout.write(markdown_table(results))
        self.stdout.write(f"Wrote {', '.join(str(p) for p in paths.values())}")

    def _copies(self, options, encoders: list[str]) -> None:
        """The copy-detection set (search/evaluation/copies.py) with the first encoder named."""
        from search.encoders import get_encoder
        from search.evaluation.copies import (
            copies_table,
            evaluate_copies,
            near_duplicate_copies,
        )
        from search.evaluation.copies_set import copy_set

        k, depth = options["k"] or 8, options["depth"] or settings.CRIER_COPY_VERIFY_DEPTH
        words_depth = options["words_depth"]
        if words_depth is None:
            words_depth = settings.CRIER_COPY_WORDS_DEPTH
        if k < 1 or depth < 1 or words_depth < 0:
            raise CommandError("--k and --depth must be at least 1, --words-depth at least 0")
        if options["dataset"] == "near-duplicates":
            copies = near_duplicate_copies()
        elif options["dataset"] in COPY_SETS:
            copies = copy_set(
                part=COPY_SETS[options["dataset"]],
                seed=options["seed"],
                targets=options["limit_per_class"],
                distractors=options["distractors"],
            )
        else:
            self._split_copies(options, encoders[0], depth, words_depth)
            return
        if not copies.targets:
            raise CommandError("the copies set needs scikit-image's sample pictures")
        data_dir = Path(settings.DATA_DIR)
        results = evaluate_copies(
            copies,
            get_encoder(encoders[0]),
            k=k,
            depth=depth,
            words_depth=words_depth,
            cache_dir=options["cache_dir"] or data_dir / "eval-cache",
            progress=not options["no_progress"],
        )
        out_dir = options["out"] or data_dir / "evaluation" / f"{options['dataset']}-{copies.seed}"
        self._write(out_dir, results, copies_table(results))

    def _write(self, out_dir: Path, results: dict, table: str) -> None:
        """results.json and results.md in ``out_dir``; the table printed."""
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        (out_dir / "results.md").write_text(table)
        self.stdout.write(table)
        self.stdout.write(f"Wrote {out_dir / 'results.json'}, {out_dir / 'results.md'}")

    def _split_copies(self, options, encoder_name: str, depth: int, words_depth: int) -> None:
        """A class-split set (fashion-mnist, a folder) searched as copy search does, on the
        splits of the plain evaluation (search/evaluation/copies_split.py)."""
        from search.encoders import get_encoder
        from search.encoders.base import EncoderError
        from search.evaluation.copies_split import evaluate_split_copies, split_copies_table
        from search.evaluation.runner import make_split

        k = options["k"] or 10
        if options["repeats"] < 1:
            raise CommandError("--repeats must be at least 1")
        try:
            encoder = get_encoder(encoder_name)
            dataset = load_dataset(options["dataset"], limit_per_class=options["limit_per_class"])
        except (EncoderError, DatasetError) as exc:
            raise CommandError(str(exc)) from exc
        seeds = [options["seed"] + r for r in range(options["repeats"])]
        data_dir = Path(settings.DATA_DIR)
        results = evaluate_split_copies(
            dataset,
            encoder,
            [make_split(dataset, seed=seed) for seed in seeds],
            k=k,
            depth=depth,
            words_depth=words_depth,
            cache_dir=options["cache_dir"] or data_dir / "eval-cache",
            progress=not options["no_progress"],
        )
        results["dataset"]["seeds"] = seeds
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset.name)
        out_dir = options["out"] or data_dir / "evaluation" / f"{slug}-copies"
        self._write(out_dir, results, split_copies_table(results))
