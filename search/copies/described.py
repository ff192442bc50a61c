"""Which copy-search rows a corpus has, in one statement: what the parts index and the visual
words index kept per process are keyed by (images described, deleted or described again, or
given words, since the last search change it). A search reads it once for both indices."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Max, Q

from corpora.models import Corpus
from search.copies import store
from search.copies import words as visual_words


@dataclass(frozen=True)
class Described:
    rows: int  # CopyFeatures rows of the corpus, whatever their version
    last: int | None  # the highest image id among them
    current: int  # rows of this ``store.VERSION``
    worded: int  # rows of this version with words of this vocabulary
    vocabulary: str  # ``visual_words.version()`` the words were counted for

    @property
    def parts_key(self) -> tuple:
        return (self.rows, self.last, self.current)

    @property
    def words_key(self) -> tuple:
        return (self.vocabulary, self.rows, self.last, self.worded)


def described(corpus: Corpus) -> Described:
    """The corpus's copy-search rows, counted from the (corpus, version, words_version, image)
    index alone: no row is read (a COUNT over rows holding ~30-60 KiB of features each read
    them all in SQLite)."""
    from search.models import CopyFeatures

    vocabulary = visual_words.version()
    found = CopyFeatures.objects.filter(corpus=corpus).aggregate(
        rows=Count("pk"),
        last=Max("pk"),
        current=Count("pk", filter=Q(version=store.VERSION)),
        worded=Count("pk", filter=Q(version=store.VERSION, words_version=vocabulary)),
    )
    return Described(vocabulary=vocabulary, **found)
