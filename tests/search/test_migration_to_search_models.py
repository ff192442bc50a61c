"""Search's data moves off corpora's models (search migration 0002, corpora 0008) without
encoding an image again or rebuilding an index: a corpus made with the models as they were
before (the historical models at corpora 0007) keeps its vectors byte for byte, its labels, its
index version and lease, and answers the same searches. Runs on whichever database the suite
uses (CI: PostgreSQL; also run with a SQLite DATABASE_URL, docs/architecture.md)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from search.indices import scann_index
from search.indices.build import index_root
from tests.factories import unit_vectors

BEFORE = [("corpora", "0007_filter_trigram_indexes"), ("search", "0001_resume_indexing_schedule")]
VERSION = "v0000000000000001-0a1b2c3d"
FINGERPRINT = "histogram-fp-before"


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] in ("corpora", "search")]


@pytest.mark.django_db(transaction=True)
def test_vectors_labels_and_the_live_index_carry_over_unchanged(settings):
    vectors = unit_vectors(12, seed=5, dim=16)
    labels = [{"label": "pug", "synonyms": ["dog"], "probability": 0.75}]
    lease_until = timezone.now() + timedelta(seconds=20)

    old = _migrate(BEFORE)
    User = old.get_model("auth", "User")
    Corpus = old.get_model("corpora", "Corpus")
    ImageRecord = old.get_model("corpora", "ImageRecord")
    owner = User.objects.create(username="before")
    corpus = Corpus.objects.create(
        owner=owner,
        name="made before",
        encoder="histogram",
        status="ready",
        index_version=VERSION,
        indexed_count=len(vectors),
        index_stale=True,
        indexing_lease_token="t" * 32,
        indexing_lease_until=lease_until,
    )

    def record(n: int, **fields):
        return ImageRecord.objects.create(
            corpus=corpus,
            file=f"corpora/{corpus.pk}/{n}.png",
            original_filename=f"photo-{n}.png",
            sha256=f"{n:064x}",
            width=1,
            height=1,
            format="PNG",
            byte_size=1,
            **fields,
        )

    encoded = [
        record(
            n,
            status="encoded",
            embedding=vector.tobytes(),
            encoder_fingerprint=FINGERPRINT,
            labels=labels if n == 3 else [],
            label_text="|pug|dog|" if n == 3 else "",
            tags=["harbour"] if n == 5 else [],
            tag_text="|harbour|" if n == 5 else "",
        )
        for n, vector in enumerate(vectors)
    ]
    failed = record(100, status="failed", error="Could not be encoded: broken")
    pending = record(101, status="pending")
    ids = np.asarray([r.pk for r in encoded], dtype=np.int64)
    # The live index as a build made it then: a directory named by the version.
    searcher = scann_index.build_searcher(vectors, ann_threshold=10_000)
    meta = {
        "n": len(ids),
        "built_n": len(ids),
        "changes_since_build": 0,
        "dim": 16,
        "kind": scann_index.BRUTE_FORCE,
        "encoder": "histogram",
        "encoder_fingerprint": FINGERPRINT,
        "built_at": 0.0,
    }
    scann_index.save_index(index_root(corpus.pk) / VERSION, searcher, ids, meta)

    _migrate(_latest())

    from corpora.models import Corpus as CorpusNow
    from corpora.models import ImageRecord as RecordNow
    from search import services
    from search.models import CorpusIndex, ImageVector
    from search.text import ranking as text

    assert not any(
        hasattr(RecordNow, f) for f in ("embedding", "encoder_fingerprint", "label_text")
    )
    state = CorpusIndex.objects.get(corpus_id=corpus.pk)
    assert (state.version, state.indexed_count, state.stale) == (VERSION, len(vectors), True)
    assert (state.encoder, state.lease_token, state.lease_until) == (
        "histogram",
        "t" * 32,
        lease_until,
    )
    rows = {row.image_id: row for row in ImageVector.objects.filter(corpus_id=corpus.pk)}
    assert set(rows) == {r.pk for r in encoded} | {failed.pk}  # a pending image has no row yet
    for original, vector in zip(encoded, vectors, strict=True):
        row = rows[original.pk]
        assert bytes(row.vector) == vector.tobytes()  # byte for byte
        assert (row.encoder, row.fingerprint, row.status) == ("histogram", FINGERPRINT, "encoded")
    assert rows[encoded[3].pk].labels == labels and rows[encoded[3].pk].label_text == "|pug|dog|"
    assert (rows[failed.pk].status, rows[failed.pk].vector) == ("failed", None)
    assert rows[failed.pk].error == "Could not be encoded: broken"
    assert RecordNow.objects.get(pk=pending.pk).status == "pending"

    # The same index version answers, with the same hits an exact scan of the vectors gives.
    now = CorpusNow.objects.get(pk=corpus.pk)
    for q in range(3):
        result = services.search_vectors(corpus=now, query=vectors[q], k=5, expansion=0)
        assert result.index_version == VERSION and not result.exact
        expected = ids[np.argsort(-(vectors @ vectors[q]), kind="stable")[:5]]
        assert [hit.record_id for hit in result.hits] == expected.tolist()
    # Text search still finds the labelled image by its label's synonym.
    found = text.text_search(corpora=CorpusNow.objects.filter(pk=corpus.pk), q="dog")
    assert [hit.record_id for hit in found.hits] == [encoded[3].pk]
    # And an encoded image by its owner's words (search 0004 copies them onto its vector row).
    found = text.text_search(corpora=CorpusNow.objects.filter(pk=corpus.pk), q="harbour")
    assert [(hit.record_id, hit.matched) for hit in found.hits] == [(encoded[5].pk, ("tags",))]
    assert RecordNow.objects.get(pk=encoded[3].pk).labels == labels
