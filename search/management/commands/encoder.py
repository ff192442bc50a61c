"""``manage.py encoder``: prepare (build/cache), inspect and try out image encoders."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crier_site.errors import CrierError
from search.encoders import encoder_choices, encoder_names, get_encoder, prepare_encoder


class Command(BaseCommand):
    help = (
        "Image encoders: 'prepare [NAME]' builds/caches the model, 'info [NAME]' describes it, "
        "'classify IMAGE... [--encoder NAME]' prints the top ImageNet labels. See docs/encoders.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        name_help = f"encoder name ({', '.join(encoder_names())}), SavedModel directory or URL"
        prepare = actions.add_parser("prepare", help="build or fetch models once")
        prepare.add_argument("names", nargs="*", metavar="name", help=name_help)
        prepare.add_argument(
            "--selectable",
            action="store_true",
            help="every encoder users may pick for a corpus (what `make run` prepares)",
        )
        info = actions.add_parser("info", help="name, dim, input size, fingerprint, source")
        info.add_argument("name", nargs="?", help=name_help)
        classify = actions.add_parser("classify", help="top ImageNet labels of images")
        classify.add_argument("images", nargs="+", help="image files")
        classify.add_argument("--encoder", dest="encoder", default=None, help=name_help)
        classify.add_argument("--top", type=int, default=5)

    def handle(self, *args, **options) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except CrierError as exc:
            raise CommandError(exc.message) from exc

    def _prepare(self, options: dict) -> None:
        names = list(options["names"])
        if options["selectable"]:
            names += [name for name, _ in encoder_choices() if name not in names]
        for name in names or [None]:  # None: the site's default
            encoder = prepare_encoder(name)
            self.stdout.write(
                f"{encoder.name} ready: dim {encoder.dim}, fingerprint {encoder.fingerprint}, "
                f"from {encoder.source}, runtime {encoder.runtime}"
            )

    def _info(self, options: dict) -> None:
        encoder = get_encoder(options["name"])
        for key, value in encoder.describe().items():
            self.stdout.write(f"{key:<12} {value}")

    def _classify(self, options: dict) -> None:
        encoder = get_encoder(options["encoder"] or settings.CRIER_ENCODER)
        results = encoder.classify(options["images"], top=options["top"])
        for path, labels in zip(options["images"], results, strict=True):
            self.stdout.write(path)
            for label, probability in labels:
                self.stdout.write(f"  {probability:6.1%}  {label}")
