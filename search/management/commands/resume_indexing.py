"""``manage.py resume_indexing``: what the every-minute recovery schedule does, at once."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from search.encoding.recovery import resume_stalled_indexing


class Command(BaseCommand):
    help = (
        "Request indexing again for every corpus with work (pending images, a stale index, "
        "status 'indexing') that no worker holds the lease of (the schedule 'crier: resume "
        "stalled indexing' does this every minute)."
    )

    def handle(self, *args, **options) -> None:
        resumed = resume_stalled_indexing()
        self.stdout.write(f"indexing requested for {len(resumed)} corpora: {resumed}")
