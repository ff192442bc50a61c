"""One per-process LRU of loaded ScaNN searchers, keyed by (corpus id, index version)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from search.indices.scann_index import LoadedIndex

MAX_LOADED = 32


class SearcherCache:
    """Thread-safe: concurrent requests for a missing key load it once.

    A corpus keeps one entry: loading a new version evicts its older one, so a swapped-out
    index is freed as soon as the new one is asked for. A request for an older version than
    the cached one (it read the corpus just before a swap) gets the newer index rather than
    loading the old one again.
    """

    def __init__(
        self, loader: Callable[[Path], LoadedIndex] = LoadedIndex.load, max_size: int = MAX_LOADED
    ) -> None:
        self._loader = loader
        self._max_size = max_size
        self._entries: OrderedDict[int, tuple[str, LoadedIndex]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[int, str], threading.Lock] = {}
        self.loads = 0

    def get(self, corpus_id: int, version: str, directory: Path) -> LoadedIndex:
        key = (corpus_id, version)
        with self._lock:
            hit = self._hit(corpus_id, version)
            if hit is not None:
                return hit
            load_lock = self._loading.setdefault(key, threading.Lock())
        with load_lock:
            with self._lock:
                hit = self._hit(corpus_id, version)
                if hit is not None:
                    return hit
            index = self._loader(directory)  # slow, outside the main lock
            with self._lock:
                self.loads += 1
                self._entries[corpus_id] = (version, index)
                self._entries.move_to_end(corpus_id)
                while len(self._entries) > self._max_size:
                    self._entries.popitem(last=False)
                self._loading.pop(key, None)
            return index

    def _hit(self, corpus_id: int, version: str) -> LoadedIndex | None:
        entry = self._entries.get(corpus_id)
        if entry is None or entry[0] < version:  # versions sort by creation time
            return None
        self._entries.move_to_end(corpus_id)
        return entry[1]

    def discard(self, corpus_id: int) -> None:
        with self._lock:
            self._entries.pop(corpus_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


searchers = SearcherCache()
