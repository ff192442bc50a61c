"""Text search's service: what matches and in which order (search/text/ranking.py,
docs/metadata.md).

The ranking runs twice where it can: on PostgreSQL through its full-text search (the stored,
GIN-indexed ``search_document``) and through the portable ranker that SQLite uses, which runs
on any database. ``make test`` (SQLite) runs the portable one, CI (PostgreSQL) both."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from corpora import services as corpus_services
from corpora import trash
from corpora.models import Corpus, ImageRecord
from crier_site.errors import InvalidInput
from search import encoders
from search.models import CorpusIndex, ImageVector, VectorStatus
from search.queries.filters import validate_filters
from search.queries.params import Page
from search.text import ranking
from search.text.ranking import query_words, text_search, validate_text_query
from tests.factories import (
    described_record,
    image_bytes,
    ingested_corpus,
    make_corpus,
    store_labels,
)

pytestmark = pytest.mark.django_db

RANKERS = ["portable"] + (["postgresql"] if connection.vendor == "postgresql" else [])


@pytest.fixture(params=RANKERS)
def ranker(request, monkeypatch) -> str:
    """Which ranker answers: PostgreSQL's full-text search or the portable one."""
    monkeypatch.setattr(ranking, "ranks_in_database", lambda: request.param == "postgresql")
    return request.param


def search(corpus_or_corpora, q: str, **page) -> ranking.TextSearchResult:
    corpora = corpus_or_corpora
    if isinstance(corpora, Corpus):
        corpora = Corpus.objects.filter(pk=corpora.pk)
    return text_search(corpora=corpora, q=q, page=Page(**{"k": 50, **page}))


def names(result: ranking.TextSearchResult) -> list[str]:
    return [hit.record.original_filename for hit in result.hits]


@pytest.fixture
def album(user) -> Corpus:
    corpus = make_corpus(user, "album")
    described_record(corpus, "IMG_0001.jpg", labels=[("Chihuahua", ["dog"], 0.9)])
    described_record(
        corpus,
        "IMG_0002.jpg",
        labels=[("tabby cat", ["tabby", "cat"], 0.8), ("Chihuahua", ["dog"], 0.1)],
    )
    described_record(corpus, "IMG_0003.jpg", tags=["dog", "beach"])
    described_record(corpus, "dog.png")
    described_record(corpus, "IMG_0005.jpg", caption="My dogs at the beach, before the storm.")
    described_record(corpus, "IMG_0006.jpg", labels=[("running shoe", ["sneaker"], 0.7)])
    described_record(corpus, "IMG_0007.jpg", labels=[("sandal", [], 0.4)], tags=["Summer"])
    return corpus


def test_fields_rank_by_their_weight_and_labels_by_probability(album, ranker) -> None:
    result = search(album, "dog")
    assert names(result) == [
        "IMG_0003.jpg",  # a tag: 0.95
        "IMG_0001.jpg",  # a label predicted at 0.9: 0.9 x 0.9
        "IMG_0005.jpg",  # the caption ("dogs"): 0.6
        "dog.png",  # the file name: 0.3
        "IMG_0002.jpg",  # a label predicted at 0.1: 0.9 x 0.1
    ]
    assert [round(hit.score, 6) for hit in result.hits] == [0.95, 0.81, 0.6, 0.3, 0.09]
    assert [hit.matched for hit in result.hits] == [
        ("tags",),
        ("labels",),
        ("caption",),
        ("filename",),
        ("labels",),
    ]


def test_a_word_found_in_several_fields_ranks_above_one_found_in_one(user, ranker) -> None:
    corpus = make_corpus(user)
    described_record(corpus, "tagged.jpg", tags=["dog"])
    described_record(corpus, "both.jpg", tags=["dog"], labels=[("Chihuahua", ["dog"], 0.5)])
    result = search(corpus, "dog")
    assert names(result) == ["both.jpg", "tagged.jpg"]
    # Noisy-OR: 1 - (1 - 0.95)(1 - 0.9 x 0.5).
    assert result.hits[0].score == pytest.approx(1 - 0.05 * 0.55)
    assert result.hits[0].matched == ("tags", "labels")


def test_the_best_label_naming_the_word_counts(user, ranker) -> None:
    corpus = make_corpus(user)
    described_record(
        corpus,
        "two-breeds.jpg",
        labels=[("Chihuahua", ["dog"], 0.3), ("tabby cat", ["cat"], 0.2), ("pug", ["dog"], 0.45)],
    )
    described_record(corpus, "one-breed.jpg", labels=[("beagle", ["dog"], 0.4)])
    result = search(corpus, "dog")
    assert names(result) == ["two-breeds.jpg", "one-breed.jpg"]
    assert result.hits[0].score == pytest.approx(0.9 * 0.45)


def test_every_one_of_the_five_labels_counts_with_its_probability(user, ranker) -> None:
    corpus = make_corpus(user)
    others = [("tabby cat", ["cat"]), ("lynx", ["cat"]), ("tiger", ["cat"]), ("jaguar", ["cat"])]
    for slot in range(5):
        names_ = [(name, synonyms) for name, synonyms in others]
        names_.insert(slot, ("pug", ["dog"]))
        probabilities = [0.5, 0.2, 0.1, 0.06, 0.04]
        labels = [(n, syn, p) for (n, syn), p in zip(names_, probabilities, strict=True)]
        described_record(corpus, f"slot{slot}.jpg", labels=labels)
    result = search(corpus, "dog")
    assert names(result) == [f"slot{slot}.jpg" for slot in range(5)]
    assert [hit.score for hit in result.hits] == pytest.approx(
        [0.9 * p for p in (0.5, 0.2, 0.1, 0.06, 0.04)]
    )
    # "cat" is in four labels of each: the best of them counts.
    assert {round(hit.score, 6) for hit in search(corpus, "cat").hits} == {0.45, 0.18}


def test_synonyms_and_label_names_are_found(album, ranker) -> None:
    assert names(search(album, "tabby")) == ["IMG_0002.jpg"]
    assert names(search(album, "Chihuahua")) == ["IMG_0001.jpg", "IMG_0002.jpg"]
    assert names(search(album, "sneaker")) == ["IMG_0006.jpg"]


def test_images_holding_every_word_come_first_then_those_missing_some(album, ranker) -> None:
    result = search(album, "dog beach")
    # A tag for both words, then the caption for both; then the dogs without a beach.
    assert names(result) == [
        "IMG_0003.jpg",
        "IMG_0005.jpg",
        "IMG_0001.jpg",
        "dog.png",
        "IMG_0002.jpg",
    ]
    # The geometric mean over the words held, times the share of the query's words held.
    assert [round(hit.score, 6) for hit in result.hits] == [0.95, 0.6, 0.405, 0.15, 0.045]
    assert [hit.matched_words for hit in result.hits] == [("dog", "beach")] * 2 + [("dog",)] * 3
    assert result.unmatched_words == ()


def test_a_partial_match_ranks_below_every_full_match_whatever_its_score(user, ranker) -> None:
    corpus = make_corpus(user)
    described_record(corpus, "weak-dog-beach.jpg")  # both words, by file name only: 0.3
    described_record(corpus, "a.jpg", tags=["dog"])  # one word of two, by tag: 0.475
    result = search(corpus, "dog beach")
    assert names(result) == ["weak-dog-beach.jpg", "a.jpg"]
    assert result.hits[0].score < result.hits[1].score


def test_words_no_image_holds_are_reported(album, ranker) -> None:
    result = search(album, "dogs on grass")
    assert result.words == ("dogs", "grass")
    assert result.unmatched_words == ("grass",)
    assert all(hit.matched_words == ("dogs",) for hit in result.hits) and len(result.hits) == 5
    nothing = search(album, "grass lawn")
    assert nothing.hits == [] and nothing.unmatched_words == ("grass", "lawn")
    # Over every image searched, not the page shown: "beach" is held beyond the first hit.
    first = search(album, "dog beach", k=1)
    assert names(first) == ["IMG_0003.jpg"] and first.unmatched_words == ()
    assert search(album, "cat beach", k=1).unmatched_words == ()


def test_words_may_come_from_different_fields(user, ranker) -> None:
    corpus = make_corpus(user)
    described_record(corpus, "a.jpg", tags=["beach"], labels=[("Chihuahua", ["dog"], 0.8)])
    result = search(corpus, "dog beach")
    assert names(result) == ["a.jpg"]
    assert result.hits[0].score == pytest.approx((0.95 * 0.9 * 0.8) ** 0.5)
    assert result.hits[0].matched == ("tags", "labels")


def test_a_many_word_label_is_found_by_its_words(album, ranker) -> None:
    result = search(album, "running shoe")
    assert names(result) == ["IMG_0006.jpg"]
    assert result.hits[0].score == pytest.approx(0.9 * 0.7)


def test_case_punctuation_and_plurals_do_not_matter(album, ranker) -> None:
    expected = names(search(album, "dog"))
    for q in ["DOG", "dogs", "  dog!!!", "dog?", "(dog)", "'dog'", "dog,"]:
        assert names(search(album, q)) == expected, q
    assert names(search(album, "Dogs, beach?")) == names(search(album, "dog beach"))
    assert names(search(album, "summer")) == ["IMG_0007.jpg"]  # tags match in any case


def test_postgresql_stems_english_words(album, ranker) -> None:
    """PostgreSQL's English stemming finds "run" in "running shoe" and "storms" in the
    caption's "storm"; the portable ranker only drops a plural s."""
    stemmed = names(search(album, "run"))
    assert names(search(album, "storms")) == ["IMG_0005.jpg"]
    if ranker == "postgresql":
        assert stemmed == ["IMG_0006.jpg"]
    else:
        assert stemmed == []


def test_stop_words_are_left_out(album, ranker) -> None:
    assert names(search(album, "the dog")) == names(search(album, "dog"))
    result = search(album, "the of")
    assert result.hits == [] and result.words == ()
    assert search(album, "a dog on the beach").words == ("dog", "beach")


def test_a_query_without_words_finds_nothing(album, ranker) -> None:
    result = search(album, "?!… --")
    assert result.hits == [] and result.words == () and result.next_offset is None


def test_file_names_match_by_their_words_not_their_extension(user, ranker) -> None:
    corpus = make_corpus(user)
    described_record(corpus, "IMG_0042.dog-park.JPG")
    described_record(corpus, "cat.png")
    assert names(search(corpus, "park")) == ["IMG_0042.dog-park.JPG"]
    assert names(search(corpus, "0042")) == ["IMG_0042.dog-park.JPG"]
    assert names(search(corpus, "jpg")) == []
    assert names(search(corpus, "png")) == []


def test_words_match_whole_words_not_parts(user, ranker) -> None:
    corpus = make_corpus(user)
    described_record(corpus, "a.jpg", tags=["category"], caption="dogma")
    assert names(search(corpus, "cat")) == []
    assert names(search(corpus, "dog")) == []


def test_only_the_given_corpora_are_searched(user, other_user, ranker) -> None:
    mine = make_corpus(user, "mine")
    theirs = make_corpus(other_user, "theirs")
    described_record(mine, "mine.jpg", tags=["dog"])
    described_record(theirs, "theirs.jpg", tags=["dog"])
    assert names(search(mine, "dog")) == ["mine.jpg"]
    both = search(Corpus.objects.all(), "dog")
    assert sorted(names(both)) == ["mine.jpg", "theirs.jpg"]
    assert {hit.corpus.name for hit in both.hits} == {"mine", "theirs"}


def test_pages_join_up_without_overlap_and_ties_go_by_image_id(user, ranker) -> None:
    corpus = make_corpus(user)
    records = [described_record(corpus, f"{i:02d}.jpg", tags=["dog"]) for i in range(7)]
    described_record(corpus, "label.jpg", labels=[("pug", ["dog"], 0.5)])
    first = search(corpus, "dog", k=3)
    assert first.next_offset == 3 and first.offset == 0
    second = search(corpus, "dog", k=3, offset=3)
    third = search(corpus, "dog", k=3, offset=6)
    assert third.next_offset is None
    ids = [hit.record_id for page in (first, second, third) for hit in page.hits]
    assert ids == [record.pk for record in records] + [ids[-1]]
    assert names(third)[-1] == "label.jpg"


def test_filters_narrow_the_images_before_ranking(user, ranker) -> None:
    corpus = make_corpus(user)
    described_record(corpus, "beach-dog.jpg", tags=["dog", "beach"])
    described_record(corpus, "pug.jpg", tags=["holiday"], labels=[("pug", ["dog"], 0.9)])
    described_record(corpus, "cat.jpg", tags=["holiday"], labels=[("tabby cat", ["cat"], 0.9)])

    def found(q: str, **filters) -> list[str]:
        result = text_search(
            corpora=Corpus.objects.filter(pk=corpus.pk),
            q=q,
            filters=validate_filters(filters),
            page=Page(k=10),
        )
        return names(result)

    assert found("dog") == ["beach-dog.jpg", "pug.jpg"]
    assert found("dog", tags=["holiday"]) == ["pug.jpg"]
    assert found("dog", label="pug") == ["pug.jpg"]
    assert found("dog", tags=["holiday"], label="tabby cat") == []
    assert found("holiday", label="cat") == ["cat.jpg"]


def test_images_need_no_vector_to_be_found(user, ranker) -> None:
    corpus = make_corpus(user)
    record = described_record(corpus, "new.jpg", tags=["dog"])
    assert record.status == "pending"
    assert names(search(corpus, "dog")) == ["new.jpg"]


def test_the_document_follows_every_change_of_tags_and_caption(user, ranker) -> None:
    corpus = make_corpus(user)
    record = described_record(corpus, "a.jpg", tags=["dog"])
    corpus_services.update_image(record=record, tags=["cat"], caption="a lighthouse")
    assert names(search(corpus, "dog")) == []
    assert names(search(corpus, "cat")) == ["a.jpg"]
    assert names(search(corpus, "lighthouse")) == ["a.jpg"]


def test_the_words_of_an_encoded_image_follow_every_change(user, ranker) -> None:
    """An encoded image is read from its vector row on PostgreSQL, which holds a copy of the
    owner's words (ImageVector.owner_words): the copy follows an edit, a rename by the admin
    and a new vector."""
    corpus = make_corpus(user)
    record = described_record(corpus, "a.jpg", tags=["dog"], labels=[("pug", ["dog"], 0.5)])
    assert [hit.matched for hit in search(corpus, "dog").hits] == [("tags", "labels")]
    corpus_services.update_image(record=record, tags=["cat"], caption="a lighthouse")
    assert [hit.matched for hit in search(corpus, "dog").hits] == [("labels",)]
    assert [hit.matched for hit in search(corpus, "cat lighthouse").hits] == [("tags", "caption")]
    record.original_filename = "harbour.jpg"
    record.save()
    assert names(search(corpus, "harbour")) == ["harbour.jpg"]
    ImageVector.objects.filter(image=record).delete()  # encoded again: a new row
    store_labels(record, [{"label": "tabby", "synonyms": ["cat"], "probability": 0.5}])
    result = search(corpus, "cat harbour")
    assert [(hit.matched, hit.matched_words) for hit in result.hits] == [
        (("tags", "labels", "filename"), ("cat", "harbour"))
    ]
    assert result.hits[0].score == pytest.approx(
        ranking.partial_score([ranking.combine({"t": 0.95, "l": 0.45}), 0.3], 2)
    )


def test_only_the_serving_encoders_encoded_labels_count_and_every_image_keeps_its_words(
    user, ranker
) -> None:
    """While a corpus changes encoder the index still serves the old one: the new encoder's
    labels do not count yet, nor do the labels of a vector row that failed; the owner's words
    count for every image."""
    corpus = make_corpus(user, encoder="new")
    CorpusIndex.objects.create(corpus=corpus, encoder="old", version="v1")
    served = described_record(corpus, "served.jpg", tags=["dog"])
    store_labels(served, [{"label": "pug", "synonyms": ["dog"], "probability": 0.5}], "old")
    not_yet = described_record(corpus, "not-yet.jpg", tags=["dog"])
    store_labels(not_yet, [{"label": "pug", "synonyms": ["dog"], "probability": 0.5}], "new")
    failed = described_record(corpus, "failed.jpg", tags=["dog"])
    store_labels(failed, [{"label": "pug", "synonyms": ["dog"], "probability": 0.5}], "old")
    ImageVector.objects.filter(image=failed).update(status=VectorStatus.FAILED)
    result = search(corpus, "dog pug")
    assert [(hit.record.original_filename, hit.matched) for hit in result.hits] == [
        ("served.jpg", ("tags", "labels")),
        ("not-yet.jpg", ("tags",)),  # equal scores: by image id
        ("failed.jpg", ("tags",)),
    ]
    CorpusIndex.objects.filter(corpus=corpus).update(encoder="new")  # the swap
    assert [hit.record.original_filename for hit in search(corpus, "pug").hits] == ["not-yet.jpg"]


def test_several_corpora_each_count_the_labels_of_their_own_serving_encoder(
    user, ranker
) -> None:
    """Searched together, each corpus's images are read from the vector rows of the encoder its
    own index serves, with or without filters; no corpus at all finds nothing."""
    first = make_corpus(user, name="first", encoder="new")
    second = make_corpus(user, name="second", encoder="new")
    CorpusIndex.objects.create(corpus=first, encoder="old", version="v1")
    CorpusIndex.objects.create(corpus=second, encoder="new", version="v1")
    expected = []
    for corpus, name in ((first, "first"), (second, "second")):
        for encoder in ("old", "new"):
            record = described_record(corpus, f"{name}-{encoder}.jpg", tags=["x"])
            store_labels(record, [{"label": "pug", "probability": 0.5}], encoder)
            if (corpus, encoder) in ((first, "old"), (second, "new")):
                expected.append(record.original_filename)
    both = Corpus.objects.filter(pk__in=[first.pk, second.pk])
    for filters in ({}, {"tags": ["x"]}):
        found = text_search(corpora=both, q="pug", filters=validate_filters(filters))
        assert names(found) == expected
    nothing = text_search(corpora=Corpus.objects.none(), q="pug")
    assert (nothing.hits, nothing.unmatched_words) == ([], ("pug",))


def test_images_in_the_trash_are_not_found_with_or_without_filters(user, ranker) -> None:
    corpus = make_corpus(user)
    kept = described_record(corpus, "kept.jpg", tags=["dog"], labels=[("pug", ["dog"], 0.5)])
    encoded = described_record(corpus, "encoded.jpg", tags=["dog"], labels=[("pug", [], 0.5)])
    pending = described_record(corpus, "pending.jpg", tags=["dog"])
    trash.trash_images(corpus=corpus, image_ids=[encoded.pk, pending.pk])

    def found(**filters) -> list[str]:
        return names(
            text_search(
                corpora=Corpus.objects.filter(pk=corpus.pk),
                q="dog pug",
                filters=validate_filters(filters),
            )
        )

    assert found() == found(tags=["dog"]) == ["kept.jpg"]
    trash.restore_images(records=ImageRecord.all_objects.filter(pk__in=[encoded.pk, pending.pk]))
    assert found() == found(tags=["dog"]) == ["kept.jpg", "encoded.jpg", "pending.jpg"]
    assert kept.pk < encoded.pk < pending.pk


def test_predicted_labels_stored_by_encoding_are_found(
    user, ranker, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """The encoding job writes labels with a bulk update; the document follows."""
    histogram = encoders.get_encoder("histogram")
    encode = histogram.encode_batch
    monkeypatch.setattr(
        histogram,
        "encode_and_classify_batch",
        lambda batch, top=5: (encode(batch), [[("Chihuahua", 0.7)] for _ in batch]),
    )
    corpus, ids = ingested_corpus(
        user, "encoded", {"x.png": image_bytes(seed=3)}, django_capture_on_commit_callbacks
    )
    assert ImageRecord.objects.get(pk=ids["x.png"]).labels[0]["label"] == "Chihuahua"
    result = search(corpus, "dog")
    assert names(result) == ["x.png"]
    assert result.hits[0].score == pytest.approx(0.9 * 0.7)


def test_the_number_of_queries_does_not_grow_with_the_hits(
    user, ranker, django_assert_max_num_queries
) -> None:
    corpus = make_corpus(user)
    for i in range(30):
        described_record(corpus, f"{i}.jpg", tags=["dog"], labels=[("pug", ["dog"], i / 30)])
    with django_assert_max_num_queries(4):
        result = search(corpus, "dog", k=30)
        assert [hit.corpus.name for hit in result.hits] == ["holiday"] * 30


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's ranking statement")
def test_the_images_not_encoded_yet_are_looked_for_only_while_some_are_pending(user) -> None:
    """Only a pending image can lack a vector row of its corpus's serving encoder: while none of
    the searched images is pending, the ranking statement leaves out the part that reads the
    images without one, and it finds the same; the look-up rides on the stop words' query."""
    corpus = make_corpus(user)
    records = [
        described_record(corpus, "a.jpg", tags=["dog"], labels=[("pug", ["dog"], 0.5)]),
        described_record(corpus, "b.jpg", caption="a dog", labels=[("tabby", ["cat"], 0.5)]),
    ]
    ImageRecord.objects.filter(pk__in=[r.pk for r in records]).update(status="encoded")

    def ranked(q: str) -> tuple[list[tuple[str, tuple[str, ...]]], str]:
        with CaptureQueriesContext(connection) as queries:
            result = search(corpus, q)
        assert len(queries) == 3  # the words (and pending images), the ranking, the records
        hits = [(hit.record.original_filename, hit.matched) for hit in result.hits]
        return hits, queries[1]["sql"]

    hits, sql = ranked("dog")
    assert hits == [("a.jpg", ("tags", "labels")), ("b.jpg", ("caption",))]
    assert "UNION ALL" not in sql
    described_record(corpus, "new.jpg", tags=["dog"])  # uploaded, not encoded yet
    hits, sql = ranked("dog cat")
    assert hits == [
        ("b.jpg", ("labels", "caption")),
        ("a.jpg", ("tags", "labels")),
        ("new.jpg", ("tags",)),
    ]
    assert "UNION ALL" in sql


def test_the_query_is_checked() -> None:
    assert validate_text_query("  dog   on\tthe  beach ") == "dog on the beach"
    for bad in ["", "   ", None, 3, "x" * 201]:
        with pytest.raises(InvalidInput) as caught:
            validate_text_query(bad)
        assert caught.value.details == {"field": "q"}
    assert validate_text_query("x" * 200) == "x" * 200
    assert query_words("Dog, DOG & t-shirt_IMG") == ("dog", "t", "shirt", "img")


def test_min_score_is_refused(album) -> None:
    with pytest.raises(InvalidInput, match="min_score"):
        text_search(corpora=Corpus.objects.filter(pk=album.pk), q="dog", page=Page(min_score=0.5))
