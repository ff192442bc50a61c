"""OpenCV, imported on first use: ``from search.copies.opencv import cv2``.

Every process that loads search (the web workers, the encoding worker) imports the copy search
modules, but only copy search calls OpenCV. Imported at the top, it cost each web process
32-44 MiB of resident memory even with ``CRIER_COPY_SEARCH=0`` (docs/benchmarks.md, "Refactor
check"); now a process that never finds features or picture boxes never loads it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _OnFirstUse:
    """Stands for the ``cv2`` module; the first attribute read imports it."""

    _module: ModuleType | None = None

    def __getattr__(self, name: str) -> Any:
        if _OnFirstUse._module is None:
            _OnFirstUse._module = importlib.import_module("cv2")
        return getattr(_OnFirstUse._module, name)


cv2: Any = _OnFirstUse()
