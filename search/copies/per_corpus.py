"""What a process keeps per corpus for copy search (the parts index, the visual words index):
the last value made for each corpus, kept while its key (index version, which rows are
described) holds; the least recently used corpus is dropped past ``size``."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerCorpus(Generic[T]):
    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._loaded: OrderedDict[int, tuple[tuple, T]] = OrderedDict()

    def get(self, corpus_id: int, key: tuple, make: Callable[[], T]) -> T:
        """The corpus's value for ``key``: the kept one, or ``make()``'s (then kept)."""
        with self._lock:
            entry = self._loaded.get(corpus_id)
            if entry is not None and entry[0] == key:
                self._loaded.move_to_end(corpus_id)
                return entry[1]
        value = make()
        with self._lock:
            self._loaded[corpus_id] = (key, value)
            self._loaded.move_to_end(corpus_id)
            while len(self._loaded) > self.size:
                self._loaded.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()
