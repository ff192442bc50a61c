"""``manage.py evaluate_text``: how often text search puts the right image in its first hits,
for scikit-image's sample photos and Fashion-MNIST (docs/evaluation.md, "Text search")."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from search.evaluation import text_search
from search.evaluation.datasets import DatasetError


class Command(BaseCommand):
    help = (
        "Text search's evaluation: labels predicted by an encoder are stored as the encoding "
        "job stores them, and each subject's word is searched for (nothing is kept in the "
        "database). Writes text-search.json and text-search.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--encoder", default="efficientnet-lite0")
        parser.add_argument("--top", type=int, default=3, help="a hit counts among the first N")
        parser.add_argument(
            "--per-class", type=int, default=100, help="Fashion-MNIST images per class and corpus"
        )
        parser.add_argument(
            "--repeats", type=int, default=10, help="disjoint Fashion-MNIST corpora to average"
        )
        parser.add_argument(
            "--sets", default="samples,fashion-mnist", help="samples and/or fashion-mnist"
        )
        parser.add_argument(
            "--out", type=Path, default=None, help="folder (default DATA_DIR/evaluation/text)"
        )
        parser.add_argument(
            "--cache-dir",
            type=Path,
            default=None,
            help="labels cache (default DATA_DIR/eval-cache)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, **options) -> None:
        from search.encoders import get_encoder
        from search.encoders.base import EncoderError

        sets = {part.strip() for part in options["sets"].split(",") if part.strip()}
        if not sets or sets - {"samples", "fashion-mnist"}:
            raise CommandError("--sets takes samples and/or fashion-mnist")
        if min(options["top"], options["per_class"], options["repeats"]) < 1:
            raise CommandError("--top, --per-class and --repeats must be at least 1")
        try:
            encoder = get_encoder(options["encoder"])
        except EncoderError as exc:
            raise CommandError(str(exc)) from exc
        if not encoder.has_classifier():
            raise CommandError(f"{encoder.name} predicts no labels: text search has none to find")
        data_dir = Path(settings.DATA_DIR)
        cache_dir = options["cache_dir"] or data_dir / "eval-cache"
        progress = not options["no_progress"]
        results: dict = {
            "encoder": encoder.name,
            "encoder_fingerprint": encoder.fingerprint,
            "database": connection.vendor,
            "top": options["top"],
        }
        if "samples" in sets:
            results["samples"] = text_search.evaluate_sample_photos(
                encoder, top=options["top"], cache_dir=cache_dir, progress=progress
            )
        if "fashion-mnist" in sets:
            try:
                results["fashion_mnist"] = text_search.evaluate_fashion_mnist(
                    encoder,
                    per_class=options["per_class"],
                    repeats=options["repeats"],
                    top=options["top"],
                    cache_dir=cache_dir,
                    progress=progress,
                )
            except DatasetError as exc:
                raise CommandError(str(exc)) from exc
        out_dir = options["out"] or data_dir / "evaluation" / "text"
        out_dir.mkdir(parents=True, exist_ok=True)
        table = text_search.markdown(results)
        (out_dir / "text-search.json").write_text(json.dumps(results, indent=2) + "\n")
        (out_dir / "text-search.md").write_text(table)
        self.stdout.write(table)
        self.stdout.write(f"Wrote {out_dir / 'text-search.json'}, {out_dir / 'text-search.md'}")
