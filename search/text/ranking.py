"""Text search: images found by words, in what people said about them (tags, caption, file name)
and in what the encoder saw (predicted labels and their synonyms). docs/metadata.md explains the
ranking; this module is the one place that computes it.

An image is found when at least one word of the query is found in some field of it; images that
hold every word come first, then those that miss one word, and so on. How strongly a field
supports a word is its *evidence*, a number in [0, 1]:

========== ===================================================
tags       0.95 — the owner said so
labels     0.9 × the probability of the best label naming it
caption    0.6 — the owner wrote it, maybe about something else
file name  0.3 — often a camera counter, sometimes a subject
========== ===================================================

A word found in several fields gets their noisy-OR, ``1 - Π(1 - evidence)`` (each field is one
more independent witness), and an image's score is the geometric mean over the words it holds
(all of them must be right), times the share of the query's words it holds (``m / n``). The
ranking is by the number of words held, then score, then image id: an image missing a word always
comes after every image that holds them all, whatever their scores. Scores are in (0, 1]. The
words no image holds at all are reported (``TextSearchResult.unmatched_words``), and each hit says
which words it holds (``TextHit.matched_words``).

On PostgreSQL the words are matched against stored, GIN-indexed tsvectors with English stemming
("dogs" finds "dog", "running" finds "run"): ``ImageRecord.search_document`` (the owner's words:
tags, caption, file name) and ``search.models.ImageVector.label_words`` (the predicted labels),
and the whole ranking runs in the database. An encoded image is read from its vector row alone,
which holds a copy of the owner's words (``ImageVector.owner_words``, kept by the database:
search migration 0004). On other databases (SQLite) the candidates are found with substring
tests on the plain columns and ranked here with the same formula; the only stemming there is a
plural "s". Either way the labels are those of the encoder the corpus's index serves.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, Q, QuerySet

from corpora.models import TEXT_SEARCH_CONFIG, Corpus, ImageRecord, ImageStatus
from crier_site.errors import InvalidInput
from search.encoders.labels import label_text
from search.models import CorpusIndex, ImageVector, VectorKind, VectorStatus
from search.queries.filters import ImageFilters, apply_filters
from search.queries.params import Page

MAX_QUERY_LENGTH = 200

# Evidence that an image shows a word, by the field the word is found in (module docstring).
TAG_EVIDENCE = 0.95
LABEL_EVIDENCE = 0.9  # times the label's predicted probability
CAPTION_EVIDENCE = 0.6
FILENAME_EVIDENCE = 0.3

FIELDS = ("tags", "labels", "caption", "filename")  # as TextHit.matched names them
_WEIGHTS = {"tags": "A", "caption": "C", "filename": "D"}  # in ImageRecord.search_document

# PostgreSQL's English stop words (tsearch_data/english.stop): words it does not index, left
# out of queries on the other databases too, so that "the dog" means "dog" everywhere.
_ENGLISH_STOP_WORDS = (
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself "
    "she her hers herself it its itself they them their theirs themselves what which who whom "
    "this that these those am is are was were be been being have has had having do does did "
    "doing a an the and but if or because as until while of at by for with about against "
    "between into through during before after above below to from up down in out on off over "
    "under again further then once here there when where why how all any both each few more "
    "most other some such no nor not only own same so than too very s t can will just don "
    "should now"
)
STOP_WORDS = frozenset(_ENGLISH_STOP_WORDS.split())

_WORD = re.compile(r"[^\W_]+")  # letters and digits; everything else separates words


def query_words(q: str) -> tuple[str, ...]:
    """The distinct words of a query, lower-case, in order: punctuation only separates."""
    return tuple(dict.fromkeys(_WORD.findall(q.lower())))


def validate_text_query(raw: object) -> str:
    """A text query from a form or the API: trimmed, whitespace collapsed, 1 to
    ``MAX_QUERY_LENGTH`` characters. A query without a word to search for ("!!!", "the") is
    valid and finds nothing."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput("Type a word or a few to search for.", field="q")
    q = raw.strip()
    if len(q) > MAX_QUERY_LENGTH:
        raise InvalidInput(
            f"The query is {len(q)} characters long; at most {MAX_QUERY_LENGTH}.", field="q"
        )
    if "\x00" in q:
        raise InvalidInput("The query cannot contain the NUL character.", field="q")
    return " ".join(q.split())


@dataclass(frozen=True)
class TextHit:
    record: ImageRecord  # with its corpus loaded
    score: float
    matched: tuple[str, ...]  # the fields where a query word was found, in FIELDS order
    matched_words: tuple[str, ...] = ()  # the query's words this image holds, in query order

    @property
    def record_id(self) -> int:
        return self.record.pk

    @property
    def corpus(self) -> Corpus:
        return self.record.corpus


@dataclass(frozen=True)
class TextSearchResult:
    hits: list[TextHit]
    took_ms: float
    q: str
    words: tuple[str, ...]  # the words searched for, stop words such as "the" left out
    offset: int = 0
    has_more: bool = False
    unmatched_words: tuple[str, ...] = ()  # words of ``words`` that no searched image holds

    @property
    def next_offset(self) -> int | None:
        return self.offset + len(self.hits) if self.has_more else None


@dataclass(frozen=True)
class _Ranked:
    record_id: int
    score: float
    matched: tuple[str, ...]
    found: tuple[bool, ...]  # per query word: whether this image holds it


@dataclass(frozen=True)
class _Ranking:
    ranked: list[_Ranked]  # best first, at most the depth asked for
    found_anywhere: tuple[bool, ...]  # per query word: whether any candidate holds it


def text_search(
    *,
    corpora: QuerySet[Corpus],
    q: str,
    filters: ImageFilters | None = None,
    page: Page | None = None,
) -> TextSearchResult:
    """The images of ``corpora`` that hold some word of ``q`` — those holding all of them first
    (module docstring) — among those ``filters`` keep; ``page`` is the slice (offset, k) of the
    ranking wanted.

    The caller decides which corpora may be searched (``corpora.selectors.visible_corpora``, or
    one readable corpus); every image of them counts, encoded or not (words need no vector).
    ``q`` is checked with :func:`validate_text_query`; ``page.min_score`` is refused (text
    scores are no cosine similarities)."""
    started = time.perf_counter()
    q = validate_text_query(q)
    page = page or Page()
    if page.min_score is not None:
        raise InvalidInput("min_score applies to image search, not text search.", field="min_score")
    words = query_words(q)
    if ranks_in_database():
        searched = _Searched.of(corpora, filters)
        if searched is None:  # nothing can match (e.g. no corpus at all)
            words = tuple(word for word in words if word not in STOP_WORDS)
            ranking = _Ranking([], (False,) * len(words))
        else:
            scope = _scope(words, searched)
            words = scope.words
            ranking = _rank_in_postgres(searched, scope, page.depth)
    else:
        records = apply_filters(ImageRecord.objects.filter(corpus__in=corpora), filters)
        words = tuple(word for word in words if word not in STOP_WORDS)
        ranking = _rank_here(records, words, page.depth)
    shown, has_more = page.cut(ranking.ranked)
    # The page's records, without their vector (as image search loads its hits).
    loaded = ImageRecord.objects.select_related("corpus").in_bulk([r.record_id for r in shown])
    hits = [
        TextHit(
            record=loaded[r.record_id],
            score=r.score,
            matched=r.matched,
            matched_words=_held(words, r.found),
        )
        for r in shown
        if r.record_id in loaded
    ]
    return TextSearchResult(
        hits=hits,
        took_ms=(time.perf_counter() - started) * 1000,
        q=q,
        words=words,
        offset=page.offset,
        has_more=has_more,
        unmatched_words=tuple(
            word for word, found in zip(words, ranking.found_anywhere, strict=True) if not found
        ),
    )


def _held(words: tuple[str, ...], found: tuple[bool, ...]) -> tuple[str, ...]:
    return tuple(word for word, held in zip(words, found, strict=True) if held)


def partial_score(word_scores: Iterable[float], n_words: int) -> float:
    """An image's score from its words' scores (0 for a word it does not hold): the geometric
    mean over the words it holds, times the share of the query's words they are."""
    held = [value for value in word_scores if value > 0.0]
    if not held:
        return 0.0
    return math.prod(held) ** (1.0 / len(held)) * len(held) / n_words


def ranks_in_database() -> bool:
    """PostgreSQL ranks with its full-text search; other databases rank here."""
    return connection.vendor == "postgresql"


def combine(evidence: Mapping[str, float]) -> float:
    """Noisy-OR of one word's evidence from each field it is found in."""
    return 1.0 - math.prod(1.0 - value for value in evidence.values())


# --- PostgreSQL: the document and the ranking in the database -------------------------------------


_SEARCHABLE = (
    "SELECT word FROM unnest(%s::text[]) WITH ORDINALITY AS t(word, n) "
    "WHERE numnode(plainto_tsquery(%s::regconfig, word)) > 0 ORDER BY n"
)


def _searchable_words(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words PostgreSQL indexes: stop words ("the", "of") have no lexeme and match nothing,
    so they are left out of the query instead of making it match nothing."""
    if not words:
        return ()
    with connection.cursor() as cursor:
        cursor.execute(_SEARCHABLE, [list(words), TEXT_SEARCH_CONFIG])
        return tuple(row[0] for row in cursor.fetchall())


@dataclass(frozen=True)
class _Searched:
    """The images a text search ranks, as SQL compiled once per search: the ids of the searched
    corpora and, when filters narrow them, the ids of the images they keep (None: every image
    of the corpora not in the trash). Compiling an ORM query costs more than PostgreSQL takes
    to plan and run these small statements, so each is compiled once and the rest is written
    here (docs/benchmarks.md, "Refactor check", text search)."""

    corpus_ids: tuple[str, tuple[Any, ...]]
    image_ids: tuple[str, tuple[Any, ...]] | None

    @classmethod
    def of(cls, corpora: QuerySet[Corpus], filters: ImageFilters | None) -> _Searched | None:
        """None when the query can hold no image at all (Django will not compile it)."""
        try:
            corpus_ids = corpora.order_by().values("pk").query.sql_with_params()
            if filters is None or filters.is_empty:
                return cls(corpus_ids, None)
            records = apply_filters(ImageRecord.objects.filter(corpus__in=corpora), filters)
            return cls(corpus_ids, records.order_by().values("pk").query.sql_with_params())
        except EmptyResultSet:
            return None

    def records(self, alias: str) -> tuple[str, list[Any]]:
        """A condition on the image table under ``alias``: the row is a searched image."""
        if self.image_ids is None:
            sql, params = self.corpus_ids
            return f'{alias}."trashed_at" IS NULL AND {alias}."corpus_id" IN ({sql})', list(params)
        sql, params = self.image_ids
        return f'{alias}."id" IN ({sql})', list(params)


@dataclass(frozen=True)
class _Scope:
    """What the ranking statement needs to know first: the searchable words, whether some
    searched image is pending, and each searched corpus with the encoder its index serves."""

    words: tuple[str, ...]
    pending: bool
    served: tuple[tuple[int, str], ...]  # (corpus id, serving encoder), by corpus id


_SERVING_ENCODER = 'COALESCE(NULLIF(ci."encoder", \'\'), c."encoder")'


def _scope(words: tuple[str, ...], searched: _Searched) -> _Scope:
    """:func:`_searchable_words`, whether some searched image is pending (not encoded yet, or
    uploaded during a change of encoder) and the searched corpora's serving encoders, in one
    round trip. Only a pending image can lack a vector row of its corpus's serving encoder
    (:func:`_candidates`): the encoding job writes an image's row and its status in one
    transaction; during a change of encoder an image uploaded meanwhile stays pending until
    the swap. The pending look-up is an index probe (``ImageRecord`` is indexed by corpus and
    status). The (corpus, encoder) pairs go into the ranking statement as a ``VALUES`` list:
    a semi-join on them there cost more to plan than the whole look-up here
    (docs/benchmarks.md, "Refactor check", text search)."""
    if not words:
        return _Scope((), False, ())
    searched_sql, searched_params = searched.records("p")
    corpus_ids, corpus_params = searched.corpus_ids
    waiting = (
        f'SELECT 1 FROM "{ImageRecord._meta.db_table}" p WHERE p."status" = %s AND {searched_sql}'
    )
    served = (
        f'SELECT array_agg(c."id" ORDER BY c."id") AS "ids", '
        f'array_agg({_SERVING_ENCODER} ORDER BY c."id") AS "encoders" '
        f'FROM "{Corpus._meta.db_table}" c LEFT JOIN "{CorpusIndex._meta.db_table}" ci '
        f'ON ci."corpus_id" = c."id" WHERE c."id" IN ({corpus_ids})'
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT ARRAY({_SEARCHABLE}), EXISTS ({waiting}), s."ids", s."encoders" '
            f'FROM ({served}) s',
            [
                list(words),
                TEXT_SEARCH_CONFIG,
                ImageStatus.PENDING,
                *searched_params,
                *corpus_params,
            ],
        )
        searchable, pending, ids, encoders = cursor.fetchone()
    return _Scope(
        tuple(searchable), bool(pending), tuple(zip(ids or (), encoders or (), strict=True))
    )


def _column(n: int, field: str) -> str:
    """The name of the n-th word's column of ``field`` (:func:`_evidence_columns`)."""
    return f"w{n}_labels" if field == "labels" else f"m{n}_{field}"


def _evidence_columns(
    words: tuple[str, ...], owner_words: str, vector: str | None
) -> dict[str, tuple[str, list[Any]]]:
    """Each word's evidence per field, as SQL (and params), read from the tsvector
    ``owner_words`` (tags, caption and file name under their weights:
    ``ImageRecord.search_document`` or its copy) and from the whole-image vector row ``vector``
    (its labels; None: no labels). ``w<n>_labels`` is the labels' evidence for the n-th word;
    ``m<n>_<field>`` is 1 - the evidence of an owner's field, as a float8 constant: the noisy-OR
    multiplies those, and a float8 column spares each candidate numeric arithmetic and casts."""
    columns: dict[str, tuple[str, list[Any]]] = {}
    for n, word in enumerate(words):
        for field, evidence in (
            ("tags", TAG_EVIDENCE),
            ("caption", CAPTION_EVIDENCE),
            ("filename", FILENAME_EVIDENCE),
        ):
            sql, params = _matches(owner_words, f"{word}:{_WEIGHTS[field]}")
            columns[_column(n, field)] = (
                f"CASE WHEN {sql} THEN (1.0 - %s)::float8 ELSE 1.0::float8 END",
                [*params, evidence],
            )
        if vector is None:
            columns[_column(n, "labels")] = ("0.0::float8", [])
        else:
            best, best_params = _best_label_probability(vector, word)
            columns[_column(n, "labels")] = (f"%s * {best}", [LABEL_EVIDENCE, *best_params])
    return columns


def _holds(field: str, value: float) -> bool:
    """Whether the column of ``field`` (:func:`_column`) says the field holds the word."""
    return value > 0.0 if field == "labels" else value < 1.0


def _matches(column: str, query: str) -> tuple[str, list[Any]]:
    # Words are letters and digits only (query_words), so they are safe in to_tsquery syntax.
    return f"{column} @@ to_tsquery(%s::regconfig, %s)", [TEXT_SEARCH_CONFIG, query]


def _best_label_probability(vector: str, word: str) -> tuple[str, list[Any]]:
    """The probability of the best label of the vector row ``vector`` whose name or synonyms
    hold ``word`` (0 when none does, or when the row holds no encoded vector), read from its
    ``label_document`` (labels 1-4 under weights A-D): no label is parsed again per candidate.
    A word in the labels (``label_words`` says so) but in none of the first four is in the
    fifth. Labels are stored best first, so a word in two of them gets the better one."""

    def probability(index: int) -> str:
        return f"""coalesce(({vector}."labels" -> {index} ->> 'probability')::float, 0.0)"""

    parts, params = [], []
    for index, weight in enumerate("ABCD"):
        sql, args = _matches(f'{vector}."label_document"', f"{word}:{weight}")
        parts.append(f"CASE WHEN {sql} THEN {probability(index)} ELSE 0.0 END")
        params += args
    sql, args = _matches(f'{vector}."label_document"', word)
    parts.append(f"CASE WHEN {sql} THEN 0.0 ELSE {probability(4)} END")
    params += args
    found, found_params = _matches(f'{vector}."label_words"', word)
    return (
        f'(CASE WHEN {vector}."status" = %s AND {found} THEN GREATEST({", ".join(parts)}) '
        "ELSE 0.0 END)",
        [VectorStatus.ENCODED, *found_params, *params],
    )


def _candidates(searched: _Searched, scope: _Scope) -> tuple[str, list[Any]]:
    """SQL (and params) of the ``searched`` images holding some word, with each word's
    evidence per field (columns ``pk`` and :func:`_column`), each image found and scored from
    one row, without a join per candidate (docs/benchmarks.md, "Refactor check", text search):

    - an image with a whole-image vector row of the encoder its corpus's index serves (of any
      status) from that row: its labels and its copy of the owner's words
      (``ImageVector.owner_words``), both GIN-indexed; the rows of the serving encoders are
      picked by (corpus, encoder) pairs, one per searched corpus, not by a join per row;
    - an image without one (not encoded yet, or only by a new encoder) from its record's
      ``search_document`` (GIN-indexed): the owner's words, no labels. Only a pending image can
      be one (:func:`_scope`): without ``scope.pending`` that part is left out
      of the statement, which PostgreSQL then plans and runs in about half the time.

    When every image of the corpora (not in the trash) is searched (no filter), the vector rows
    are narrowed by their corpus and the few images in the trash, without reading the records
    (a hash of every searched image cost a word half the images hold a third more than at
    708a49f)."""
    words = scope.words
    table, vectors = ImageRecord._meta.db_table, ImageVector._meta.db_table
    corpora, indices = Corpus._meta.db_table, CorpusIndex._meta.db_table
    query = " | ".join(words)

    def select(pk: str, owner_words: str, vector: str | None) -> tuple[str, list[Any]]:
        columns = _evidence_columns(words, owner_words, vector)
        sql = ", ".join(f'{sql} AS "{name}"' for name, (sql, _) in columns.items())
        return f'SELECT {pk} AS "pk", {sql}', [p for _, params in columns.values() for p in params]

    if searched.image_ids is not None:
        ids, id_params = searched.image_ids
        within, within_params = f'v."image_id" IN ({ids})', list(id_params)
    else:
        # The corpora's images in the trash (an array of the corpora, not a join: cheaper to
        # plan, and there are few of them).
        within = (
            f'v."image_id" NOT IN (SELECT t."id" FROM "{table}" t WHERE t."trashed_at" IS NOT '
            'NULL AND t."corpus_id" = ANY(%s))'
        )
        within_params = [[corpus for corpus, _ in scope.served]]
    owner, owner_params = _matches('v."owner_words"', query)
    labels, label_params = _matches('v."label_words"', query)
    head, head_params = select('v."image_id"', 'v."owner_words"', "v")
    # Each row must be of its corpus's serving encoder: the (corpus, encoder) pairs as a
    # VALUES list (read by :func:`_scope`).
    serving_pairs = ", ".join(["(%s, %s)"] * len(scope.served))
    served_params = [value for pair in scope.served for value in pair]
    vector_rows = (
        f'{head} FROM "{vectors}" v WHERE v."kind" = %s '
        f'AND ({owner} OR ({labels} AND v."status" = %s)) '
        f'AND (v."corpus_id", v."encoder") IN (VALUES {serving_pairs}) AND {within}'
    )
    vector_params = [
        *head_params,
        VectorKind.IMAGE,
        *owner_params,
        *label_params,
        VectorStatus.ENCODED,
        *served_params,
        *within_params,
    ]
    if not scope.pending:
        return vector_rows, vector_params

    head, head_params = select('r."id"', 'r."search_document"', None)
    owner, owner_params = _matches('r."search_document"', query)
    record_searched, record_searched_params = searched.records("r")
    record_rows = (
        f'{head} FROM "{table}" r JOIN "{corpora}" c ON c."id" = r."corpus_id" '
        f'LEFT JOIN "{indices}" ci ON ci."corpus_id" = c."id" '
        f'WHERE {owner} AND {record_searched} AND NOT EXISTS (SELECT 1 FROM "{vectors}" v '
        f'WHERE v."image_id" = r."id" AND v."kind" = %s AND v."encoder" = {_SERVING_ENCODER})'
    )
    record_params = [*head_params, *owner_params, *record_searched_params, VectorKind.IMAGE]
    return f"{vector_rows} UNION ALL {record_rows}", [*vector_params, *record_params]


def _rank_in_postgres(searched: _Searched, scope: _Scope, depth: int) -> _Ranking:
    """Rank in one query: the candidates come through the GIN indexes (some word somewhere in
    the owner's words or the labels), each word's evidence per field is computed for them alone,
    and the number of words held, then the score (the same formula as :func:`partial_score`),
    orders them.
    Whether any candidate holds each word is read over all of them, before the cut.
    ``scope``: see :func:`_scope` and :func:`_candidates`."""
    words = scope.words
    if not words:
        return _Ranking([], ())
    if not scope.served:  # no corpus to search
        return _Ranking([], (False,) * len(words))
    columns = [_column(i, field) for i in range(len(words)) for field in FIELDS]
    inner, params = _candidates(searched, scope)
    n = len(words)
    names = ", ".join(f'"{name}"' for name in columns)

    def miss(i: int, field: str) -> str:  # 1 - the evidence of the field for the i-th word
        if field == "labels":
            return f'(1.0::float8 - "{_column(i, field)}")'
        return f'"{_column(i, field)}"'

    word_scores = ", ".join(
        "(1.0::float8 - " + " * ".join(miss(i, field) for field in FIELDS) + f') AS "s{i}"'
        for i in range(n)
    )
    held = " + ".join(f'(CASE WHEN "s{i}" > 0 THEN 1 ELSE 0 END)' for i in range(n))
    product = " * ".join(f'(CASE WHEN "s{i}" > 0 THEN "s{i}" ELSE 1.0 END)' for i in range(n))
    scores = ", ".join(f'"s{i}"' for i in range(n))
    # Which words some candidate holds: a window over all of them (it keeps every candidate
    # until the last is read: ~5 % of a word half the images hold), unless there is one word,
    # which every image ranked holds: then it is whether any is ranked.
    one_word = n == 1 and depth > 0
    anywhere = (
        ""
        if one_word
        else ", " + ", ".join(f'bool_or("s{i}" > 0) OVER () AS "any{i}"' for i in range(n))
    )
    # Geometric mean over the words held (the product decides the order among images holding
    # the same words, the root keeps a score comparable to one field's evidence), times the
    # share of the query's words they are. "OFFSET 0" keeps a subquery from being pulled up
    # into the next, so each column is computed once per candidate: pulled up, every
    # reference to a column computes its expression again (the word scores are referenced
    # five times), and once the inflated cost estimate switched on PostgreSQL's JIT compiler
    # (docs/benchmarks.md, "Refactor check": "dog" over 10k images 5.7x slower). The score is
    # computed once, in the outer select that the order refers to; the window runs over the
    # images holding a word, which are all the candidates that count (one holding none adds
    # no word to any "any").
    sql = (
        f'SELECT "pk", "held", power({product}, 1.0::float8 / GREATEST("held", 1)) * "held" '
        f'/ {n}.0 AS "score", {scores}, {names}{anywhere} '
        f'FROM (SELECT *, {held} AS "held" FROM ('
        f'SELECT "pk", {names}, {word_scores} FROM ({inner} OFFSET 0) AS "candidates"'
        ' OFFSET 0) AS "words" OFFSET 0) AS "counted" '
        'WHERE "held" > 0 ORDER BY "held" DESC, "score" DESC, "pk" LIMIT %s'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, depth])
        rows = cursor.fetchall()
    ranked = []
    for pk, _, value, *rest in rows:
        word_values, evidence = rest[:n], rest[n : n + len(columns)]
        found = dict(zip(columns, evidence, strict=True))
        matched = tuple(
            field
            for field in FIELDS
            if any(_holds(field, found[_column(i, field)]) for i in range(n))
        )
        ranked.append(
            _Ranked(
                record_id=pk,
                score=float(value),
                matched=matched,
                found=tuple(v > 0 for v in word_values),
            )
        )
    if one_word:
        found_anywhere = (bool(rows),)
    else:
        found_anywhere = tuple(bool(v) for v in rows[0][-n:]) if rows else (False,) * n
    return _Ranking(ranked, found_anywhere)


# --- other databases: substring candidates, ranked here ------------------------------------------


def _stem(word: str) -> str:
    """The only stemming outside PostgreSQL: a plural "s" ("dogs" → "dog", not "glass")."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _stems(text: str) -> set[str]:
    return {_stem(word) for word in _WORD.findall(text.lower())}


def _filename_stems(name: str) -> set[str]:
    path = PurePosixPath(name)
    suffix = path.suffix
    if 1 < len(suffix) <= 6 and suffix[1:].isalnum():
        name = name[: -len(suffix)]
    return _stems(name)


def _rank_here(records: QuerySet[ImageRecord], words: tuple[str, ...], depth: int) -> _Ranking:
    if not words:
        return _Ranking([], ())
    stems = [_stem(word) for word in words]
    # The labels of the encoder each corpus's index serves, as on PostgreSQL.
    index_encoder = "corpus__search_index__encoder"
    labelled = ImageVector.objects.filter(
        Q(**{index_encoder: F("encoder")})
        | (
            (Q(**{f"{index_encoder}__isnull": True}) | Q(**{index_encoder: ""}))
            & Q(corpus__encoder=F("encoder"))
        ),
        kind=VectorKind.IMAGE,
        status=VectorStatus.ENCODED,
    )
    some_word = Q()
    for stem in stems:
        some_word |= (
            Q(tag_text__icontains=stem)
            | Q(pk__in=labelled.filter(label_text__icontains=stem).values("image_id"))
            | Q(caption__icontains=stem)
            | Q(original_filename__icontains=stem)
        )
    rows = list(records.filter(some_word).values_list("pk", "tags", "caption", "original_filename"))
    labels_of: dict[int, list] = {}
    for image_id, labels in labelled.filter(image_id__in=[row[0] for row in rows]).values_list(
        "image_id", "labels"
    ):
        labels_of.setdefault(image_id, []).extend(labels or [])
    ranked = []
    found_anywhere = [False] * len(stems)
    for pk, tags, caption, filename in rows:
        scored = score_fields(
            stems,
            tags=_stems(" ".join(tags or [])),
            labels=[
                (_stems(label_text([label])), _probability(label))
                for label in labels_of.get(pk, [])
            ],
            caption=_stems(caption),
            filename=_filename_stems(filename),
        )
        if scored is not None:
            score, matched, found = scored
            ranked.append(_Ranked(record_id=pk, score=score, matched=matched, found=found))
            found_anywhere = [a or b for a, b in zip(found_anywhere, found, strict=True)]
    ranked.sort(key=lambda r: (-sum(r.found), -r.score, r.record_id))
    return _Ranking(ranked[:depth], tuple(found_anywhere))


def _probability(label: Any) -> float:
    try:
        return float(label.get("probability", 0.0))
    except (AttributeError, TypeError, ValueError):
        return 0.0


def score_fields(
    stems: Iterable[str],
    *,
    tags: set[str],
    labels: list[tuple[set[str], float]],
    caption: set[str],
    filename: set[str],
) -> tuple[float, tuple[str, ...], tuple[bool, ...]] | None:
    """(score, matched fields, whether each word is held) of one image, or None when it holds
    none of the words (:func:`partial_score`)."""
    stems = list(stems)
    word_scores, matched = [], set()
    for stem in stems:
        evidence = {
            "tags": TAG_EVIDENCE if stem in tags else 0.0,
            "labels": LABEL_EVIDENCE
            * max((p for words, p in labels if stem in words), default=0.0),
            "caption": CAPTION_EVIDENCE if stem in caption else 0.0,
            "filename": FILENAME_EVIDENCE if stem in filename else 0.0,
        }
        word_scores.append(combine(evidence))
        matched.update(field for field, value in evidence.items() if value > 0)
    if not any(value > 0.0 for value in word_scores):
        return None
    return (
        partial_score(word_scores, len(stems)),
        tuple(field for field in FIELDS if field in matched),
        tuple(value > 0.0 for value in word_scores),
    )
