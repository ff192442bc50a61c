"""python manage.py import_images <dir-or-zip> --corpus NAME --owner USER [--create] [--public]"""

from __future__ import annotations

import io
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from corpora import services
from corpora.importing import iter_import_items, read_import_annotations
from corpora.models import Corpus, Visibility
from corpora.services import IngestReport, RejectedFile
from crier_site.errors import InvalidInput

CHUNK = 64


class Command(BaseCommand):
    help = "Import every image under a folder (recursively) or in a ZIP archive into a corpus."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", type=Path, help="A folder or a .zip file.")
        parser.add_argument("--corpus", required=True, help="Name of the corpus.")
        parser.add_argument("--owner", required=True, help="Username of the corpus owner.")
        parser.add_argument("--create", action="store_true", help="Create the corpus if missing.")
        parser.add_argument("--public", action="store_true", help="Make a new corpus public.")
        parser.add_argument("--encoder", help="Encoder of a new corpus (default: CRIER_ENCODER).")
        parser.add_argument(
            "--sync", action="store_true", help="Encode and index now instead of in the worker."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options) -> None:
        source: Path = options["source"]
        if not source.exists():
            raise CommandError(f"{source} does not exist.")
        corpus = self._corpus(options)
        report = IngestReport()
        try:
            items = list(iter_import_items(source, max_bytes=settings.CRIER_MAX_UPLOAD_BYTES))
            annotations = read_import_annotations(source)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        if annotations.source:
            self.stdout.write(
                f"Metadata for {len(annotations.by_name)} file(s) from {annotations.source}."
            )
        progress = tqdm(
            total=len(items),
            unit="img",
            desc="Importing",
            disable=options["no_progress"],
            file=self.stderr,
        )
        iterator = iter(items)
        while chunk := list(islice(iterator, CHUNK)):
            uploads = []
            for item in chunk:
                if item.refused:
                    report.rejected.append(RejectedFile(item.relative_path, item.refused))
                    continue
                try:
                    handle = io.BytesIO(item.read())
                    handle.size = item.size  # the real size, for the byte cap's message
                    uploads.append((item.relative_path, handle))
                except (OSError, ValueError) as exc:
                    report.rejected.append(RejectedFile(item.relative_path, f"Unreadable: {exc}"))
            part = services.ingest_files(
                corpus=corpus,
                files=uploads,
                enqueue=False,
                # An export's manifest carries each image's own metadata already.
                metadata={} if annotations.from_export else {"source": "import"},
                keep_paths=not annotations.from_export,
                annotations=annotations.by_name,
                report_unmatched=False,  # checked once below, across all chunks
            )
            report.extend(part)
            progress.update(len(chunk))
            if report.interrupted is not None:  # a full disk, the database gone: stop here
                break
        progress.close()
        self._reject_unmatched(annotations, items, report)
        self._print_report(report)
        if report.interrupted is not None:
            self.stderr.write(self.style.ERROR(f"Import stopped: {report.interrupted.message}"))
        if options["sync"]:
            self.stdout.write(services.index_now(corpus_id=corpus.pk))
        elif report.accepted:
            services.request_indexing(corpus_id=corpus.pk)
            self.stdout.write("Indexing was queued; a running worker (qcluster) will do it.")

    def _corpus(self, options) -> Corpus:
        user_model = get_user_model()
        try:
            owner = user_model.objects.get(username=options["owner"])
        except user_model.DoesNotExist:
            raise CommandError(f"No user named {options['owner']!r}.") from None
        corpus = Corpus.objects.live().filter(owner=owner, name=options["corpus"]).first()
        if corpus is not None:
            return corpus
        if not options["create"]:
            raise CommandError(
                f"{owner} has no corpus named {options['corpus']!r}; add --create to make it."
            )
        return services.create_corpus(
            owner=owner,
            name=options["corpus"],
            visibility=Visibility.PUBLIC if options["public"] else Visibility.PRIVATE,
            encoder=options["encoder"],
        )

    def _reject_unmatched(self, annotations, items, report: IngestReport) -> None:
        known = {item.relative_path for item in items}
        known |= {path.rsplit("/", 1)[-1] for path in known}
        for name in sorted(set(annotations.by_name) - known):
            report.rejected.append(RejectedFile(name, services.UNMATCHED_METADATA))

    def _print_report(self, report: IngestReport) -> None:
        self.stdout.write(
            f"accepted: {len(report.accepted)}, duplicates: {len(report.duplicates)}, "
            f"rejected: {len(report.rejected)}"
        )
        for duplicate in report.duplicates:
            self.stdout.write(
                f"  duplicate {duplicate.filename} (same bytes as #{duplicate.existing_id})"
            )
        for rejected in report.rejected:
            self.stdout.write(
                self.style.WARNING(f"  rejected {rejected.filename}: {rejected.error}")
            )
