"""A site with content, and the searches a restore must answer alike: run inside the app's own
processes (``manage.py shell -c "from tests.site.backup_scenario import ..."``) by
tests/site/test_backup.py, against whichever database and data dir their environment names."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

WORDS = ("beach", "dog", "snow", "city")
CORPORA = (("alice", "holiday", "public"), ("alice", "secret", "private"), ("bob", "zoo", "public"))


def populate() -> None:
    """Two people, three corpora of 12 pictures each, tagged, uploaded, encoded and indexed
    (the environment runs tasks inline), and one image of each moved to the trash."""
    from django.contrib.auth import get_user_model

    from corpora import services
    from tests.factories import image_bytes

    people = {
        name: get_user_model().objects.create_user(name, password=f"{name}-long-passphrase-1")
        for name in ("alice", "bob")
    }
    for number, (owner, name, visibility) in enumerate(CORPORA):
        corpus = services.create_corpus(
            owner=people[owner], name=name, visibility=visibility, encoder="histogram"
        )
        files = {f"{name}-{i}.png": image_bytes(seed=100 * number + i) for i in range(12)}
        annotations = {
            filename: {"tags": [WORDS[i % len(WORDS)]], "caption": f"picture {i} of {name}"}
            for i, filename in enumerate(files)
        }
        report = services.ingest_files(
            corpus=corpus,
            files=[(n, io.BytesIO(d)) for n, d in files.items()],
            annotations=annotations,
        )
        services.delete_images(corpus=corpus, image_ids=[report.accepted[-1].pk])  # trash


def searches() -> None:
    """Print, as JSON, what the same searches answer here: by image, more like this and by
    words in every corpus, each corpus's index version, and whether every stored original still
    has the bytes its record's SHA-256 says."""
    from corpora.models import Corpus, ImageRecord
    from search.queries.params import Page
    from search.services import search_image, search_similar
    from search.text.ranking import text_search
    from tests.factories import image_bytes, index_of

    out: dict = {}
    for corpus in Corpus.objects.order_by("name"):
        first = corpus.images.order_by("original_filename").first()

        def hits(result) -> list:
            return [[hit.record.original_filename, round(hit.score, 5)] for hit in result.hits]

        out[corpus.name] = {
            "owner": corpus.owner.get_username(),
            "visibility": corpus.visibility,
            "status": corpus.status,
            "index_version": index_of(corpus).version,
            "images": corpus.images.count(),
            "in_trash": ImageRecord.all_objects.in_trash().filter(corpus=corpus).count(),
            "by_image": hits(
                search_image(corpus=corpus, image=image_bytes(seed=1), page=Page(k=5))
            ),
            "similar": hits(search_similar(corpus=corpus, record_id=first.pk, page=Page(k=5))),
            "text": {
                word: [
                    hit.record.original_filename
                    for hit in text_search(
                        corpora=Corpus.objects.filter(pk=corpus.pk), q=word, page=Page(k=20)
                    ).hits
                ]
                for word in WORDS
            },
        }
    out["files_intact"] = all(
        hashlib.sha256(Path(record.file.path).read_bytes()).hexdigest() == record.sha256
        for record in ImageRecord.all_objects.all()
    )
    out["stored_files"] = sorted(
        name
        for pair in ImageRecord.all_objects.values_list("file", "thumbnail")
        for name in pair
        if name
    )
    print(json.dumps(out, sort_keys=True))
