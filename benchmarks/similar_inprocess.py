""""More like this" in one process, without HTTP or other clients: the CPU one answer costs.

    .venv/bin/python benchmarks/similar_inprocess.py --data-dir /tmp/crier-load-XXXX/data \\
        --database-url postgres://crier:crier@127.0.0.1:5432/crier_bench [--requests 400]

Reads the newest corpus of a database that ``benchmarks/load.py`` filled (its data dir is kept
under /tmp, printed as "work dir"), and asks DRF's test client for more like one of its images,
``--requests`` times after 50 to warm up, authenticated as the owner (no key look-up), with
copy search off. Prints the p50 and mean in ms. Run it from each checkout being compared,
alternating, on that checkout's own database (docs/benchmarks.md, "Refactor check").
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path.cwd()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="a load.py run's data dir")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="crier_site.settings",
        DATABASE_URL=args.database_url,
        CRIER_DATA_DIR=args.data_dir,
        DEBUG="false",
        CRIER_COPY_SEARCH="0",
        ALLOWED_HOSTS="testserver",
        SECRET_KEY="benchmark-" * 6,
    )
    os.environ.pop("CRIER_INDEX_DIR", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from rest_framework.test import APIClient

    from corpora.models import Corpus, ImageRecord

    corpus = Corpus.objects.order_by("-pk").first()
    ids = list(ImageRecord.objects.filter(corpus=corpus).values_list("pk", flat=True)[:500])
    client = APIClient()
    client.force_authenticate(corpus.owner)
    url = f"/api/v1/corpora/{corpus.pk}/search/similar/"
    rng = random.Random(0)

    def more_like_one() -> None:
        answer = client.post(url, {"image_id": rng.choice(ids), "k": 10}, format="json")
        assert answer.status_code == 200, answer.content

    for _ in range(50):
        more_like_one()
    took = []
    for _ in range(args.requests):
        started = time.perf_counter()
        more_like_one()
        took.append(time.perf_counter() - started)
    print(
        f"more like this, {len(ids)} images of corpus {corpus.pk}: "
        f"p50 {1000 * statistics.median(took):.2f} ms, mean {1000 * statistics.mean(took):.2f} ms"
    )


if __name__ == "__main__":
    main()
