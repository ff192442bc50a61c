"""The encoding job's round trips do not grow with the images it encodes, and stay few: under
load each costs ~20 ms (docs/benchmarks.md, "Refactor check"). Its index row is read once per
step that needs it, with the corpus where both are needed."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from corpora import services
from search.encoding import job
from tests.factories import image_bytes, make_corpus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("histogram_by_default")]

# A job that encodes new images of an indexed corpus (one batch) and brings its index up to
# date. 708a49f made 25, writing onto corpora's rows (no separate index row, no lock of the
# corpus against deletions while a batch is stored); 40 before the index row was read once
# per step (lease, index update, final status).
JOB_QUERIES = 32


def _encode_new(corpus, seeds) -> int:
    files = [(f"{s}.jpg", io.BytesIO(image_bytes(fmt="JPEG", seed=s))) for s in seeds]
    services.ingest_files(corpus=corpus, files=files, enqueue=False)
    with CaptureQueriesContext(connection) as queries:
        outcome = job.encode_corpus(corpus_id=corpus.pk)
    assert outcome.encoded == len(seeds)
    # No FOR UPDATE of a row that uploads refer to: an image's INSERT takes FOR KEY SHARE on
    # its corpus row and would wait for the whole batch (FOR NO KEY UPDATE lets it through).
    sql = [query["sql"] for query in queries.captured_queries]
    assert not [q for q in sql if "FOR UPDATE" in q], sql
    return len(queries)


def test_the_encoding_job_makes_as_many_queries_for_three_images_as_for_nine(user, settings):
    settings.CRIER_COPY_SEARCH = False  # copy search stores its data besides
    corpus = make_corpus(user)
    _encode_new(corpus, [0, 1])  # the first job makes the index row and builds the index
    assert _encode_new(corpus, [10, 11, 12]) == JOB_QUERIES
    assert _encode_new(corpus, range(20, 29)) == JOB_QUERIES
