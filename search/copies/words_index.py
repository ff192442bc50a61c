"""A corpus's visual words, searchable: an inverted index from each word to the stored feature
sets holding it (a picture's whole and its first boxes, ``search.copies.words``), scored by
tf-idf cosine, an image scoring its best set against any of the query's sets.

It finds the copies the CNN does not rank high: a small part of a composite (a collage's cell,
an inset) of a texture, a degraded or turned copy (docs/copies.md "Candidates from the visual
words"). Kept per process like ``parts_index``, and keyed the same way (the corpus's index
version and which images are described, with words of this vocabulary).

Memory: postings are int32 set rows and uint8 term counts, word-major (5 bytes a posting; a
plain photo's 500 keypoints give ~300-400 distinct words), with one int64 owner and one float32
norm a set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from corpora.models import Corpus
from search.copies import store
from search.copies import words as visual_words
from search.copies.described import Described, described
from search.copies.per_corpus import PerCorpus

MAX_LOADED = 32
CHUNK = 4096  # feature sets counted at a time while building


@dataclass(frozen=True)
class WordsIndex:
    owners: np.ndarray  # (sets,) int64 image id of each set, ascending
    offsets: np.ndarray  # (words + 1,) int64: word w's postings are offsets[w]:offsets[w + 1]
    postings: np.ndarray  # int32 set rows, word-major, ascending within a word
    counts: np.ndarray  # uint8 how often the word occurs in that set
    idf: np.ndarray  # (words,) float32: log(sets / (1 + sets holding the word))
    inverse_norms: np.ndarray  # (sets,) float32: 1 / |tf·idf| of each set (0: empty set)

    @property
    def nbytes(self) -> int:
        return sum(
            a.nbytes
            for a in (
                self.owners, self.offsets, self.postings, self.counts, self.idf, self.inverse_norms
            )
        )  # fmt: skip

    def _postings(self, words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The postings of ``words`` (ascending), word after word: set rows, counts as float32,
        and how many each word has. Copied a word's slice at a time (one pass; gathering them
        through an index array of every posting took ~3x as long)."""
        starts, ends = self.offsets[words], self.offsets[words + 1]
        spans = [slice(a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        if not spans:
            return np.zeros(0, np.int32), np.zeros(0, np.float32), ends - starts
        rows = np.concatenate([self.postings[span] for span in spans])
        counts = np.concatenate([self.counts[span] for span in spans]).astype(np.float32)
        return rows, counts, ends - starts

    def search(self, query: Sequence[np.ndarray], n: int) -> dict[int, float]:
        """The best ``n`` images by the cosine of their best feature set's tf-idf vector with
        any of the ``query``'s sets (each an array of word ids), best first, ties by image id."""
        query = [np.asarray(words, np.int64) for words in query if len(words)]
        if not query or not len(self.owners) or n <= 0:
            return {}
        size = len(self.idf)
        weights = (
            np.stack([np.bincount(words, minlength=size) for words in query]).astype(np.float32)
            * self.idf
        )
        weights /= np.maximum(np.linalg.norm(weights, axis=1, keepdims=True), 1e-12)
        weights *= self.idf  # what a stored count is multiplied by (its idf, then its norm)
        best = np.zeros(len(self.owners), np.float32)
        for row_weights in weights:
            # Only this set's own words: a zero weight adds nothing to a posting's sum.
            own = np.flatnonzero(row_weights)
            rows, counts, lengths = self._postings(own)
            if not len(rows):
                continue
            scores = np.bincount(
                rows, weights=counts * np.repeat(row_weights[own], lengths), minlength=len(best)
            )
            np.maximum(best, scores.astype(np.float32), out=best)
        best *= self.inverse_norms
        starts_of = np.flatnonzero(np.r_[True, self.owners[1:] != self.owners[:-1]])
        images, image_best = self.owners[starts_of], np.maximum.reduceat(best, starts_of)
        kept = np.flatnonzero(image_best > 0)
        if len(kept) > n:  # the best n all score at least the n-th best score: sort only those
            nth = np.partition(image_best[kept], len(kept) - n)[len(kept) - n]
            kept = kept[image_best[kept] >= nth]
        kept = kept[np.lexsort((images[kept], -image_best[kept]))][:n]
        return {int(images[i]): float(image_best[i]) for i in kept}


def build(rows: Iterable[tuple[int, list[np.ndarray]]], size: int) -> WordsIndex:
    """The index of ``rows`` ((image id, its sets' word ids), ascending image id) over a
    vocabulary of ``size`` words."""
    owners: list[int] = []
    chunks: list[np.ndarray] = []  # (sets, size) uint8 counts, CHUNK sets at a time
    pending: list[np.ndarray] = []

    def flush() -> None:
        if pending:
            chunks.append(np.stack(pending))
            pending.clear()

    for image_id, sets in rows:
        for words in sets:
            owners.append(image_id)
            pending.append(np.minimum(np.bincount(words, minlength=size), 255).astype(np.uint8))
            if len(pending) >= CHUNK:
                flush()
    flush()
    sets = len(owners)
    holding = sum((chunk > 0).sum(axis=0, dtype=np.int64) for chunk in chunks)
    holding = np.zeros(size, np.int64) if isinstance(holding, int) else holding
    idf = np.log(max(sets, 1) / (1.0 + holding)).astype(np.float32)
    offsets = np.zeros(size + 1, np.int64)
    offsets[1:] = np.cumsum(holding)
    postings = np.empty(int(offsets[-1]), np.int32)
    counts = np.empty(int(offsets[-1]), np.uint8)
    inverse_norms = np.zeros(sets, np.float32)
    cursor, first_set = offsets[:-1].copy(), 0
    for chunk in chunks:
        norms = np.sqrt(((chunk.astype(np.float32) * idf) ** 2).sum(axis=1))
        inverse_norms[first_set : first_set + len(chunk)] = np.where(
            norms > 0, 1 / np.maximum(norms, 1e-12), 0
        )
        word, row = np.nonzero(chunk.T)  # word-major, ascending rows within a word
        per_word = np.bincount(word, minlength=size)
        rank = np.arange(len(word)) - np.repeat(np.cumsum(per_word) - per_word, per_word)
        where = cursor[word] + rank
        postings[where] = row + first_set
        counts[where] = chunk[row, word]
        cursor += per_word
        first_set += len(chunk)
    return WordsIndex(
        owners=np.asarray(owners, np.int64),
        offsets=offsets,
        postings=postings,
        counts=counts,
        idf=idf,
        inverse_norms=inverse_norms,
    )


_loaded: PerCorpus[WordsIndex] = PerCorpus(MAX_LOADED)


def _stored_rows(corpus: Corpus, version: str) -> Iterable[tuple[int, list[np.ndarray]]]:
    from search.models import CopyFeatures

    rows = CopyFeatures.objects.filter(
        corpus=corpus, version=store.VERSION, words_version=version
    ).exclude(words=None)
    for image_id, blob in (
        rows.order_by("image_id").values_list("image_id", "words").iterator(chunk_size=2000)
    ):
        yield image_id, visual_words.unpack(bytes(blob))


def words_index(corpus: Corpus, version: str, rows: Described | None = None) -> WordsIndex:
    """The corpus's visual words, for a search of its index ``version``; ``rows``: the
    corpus's ``described`` rows when the search read them already."""
    rows = rows if rows is not None else described(corpus)
    key = (version, *rows.words_key)
    size = visual_words.vocabulary().size
    return _loaded.get(corpus.pk, key, lambda: build(_stored_rows(corpus, rows.vocabulary), size))


def clear() -> None:
    _loaded.clear()
