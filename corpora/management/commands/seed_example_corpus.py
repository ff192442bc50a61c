"""python manage.py seed_example_corpus — the public example corpus of the home page.

Photos come from scikit-image's bundled sample data, so this works offline. Idempotent: run it
again and nothing is duplicated; it only encodes what is missing.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from corpora.examples import seed_example_corpus


class Command(BaseCommand):
    help = "Create (or complete) the public example corpus from photos shipped by scikit-image."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-index", action="store_true", help="Only store the images; let the worker index."
        )

    def handle(self, *args, **options) -> None:
        corpus, report, summary = seed_example_corpus(index=not options["no_index"])
        self.stdout.write(
            f"Example corpus {corpus.name!r} (#{corpus.pk}): {len(report.accepted)} added, "
            f"{len(report.duplicates)} already there, {len(report.rejected)} rejected."
        )
        if summary is not None:
            self.stdout.write(summary)
