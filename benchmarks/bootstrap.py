"""Django set-up shared by the benchmark scripts, which run as ``python benchmarks/<name>.py``
(so this folder is on ``sys.path`` and the project root is added here)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_django(*, scratch_prefix: str | None = None) -> Path | None:
    """Start Django with the project's settings. With ``scratch_prefix``, on a throw-away data
    directory (returned) with its own migrated SQLite database; the shared prepared models in
    ``CRIER_MODEL_DIR`` are still used."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crier_site.settings")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    scratch = None
    if scratch_prefix is not None:
        scratch = Path(tempfile.mkdtemp(prefix=scratch_prefix))
        os.environ["CRIER_DATA_DIR"] = str(scratch)
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    if scratch is not None:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    return scratch


def timed_runs(run: Callable[[], object], repeats: int) -> list[float]:
    """Seconds each of ``repeats`` calls of ``run`` took, after one untimed warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times
