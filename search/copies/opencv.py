"""OpenCV, imported on first use: ``from search.copies.opencv import cv2``.

Every process that loads search (the web workers, the encoding worker) imports the copy search
modules, but only copy search calls OpenCV. Imported at the top, it cost each web process
32-44 MiB of resident memory even with ``CRIER_COPY_SEARCH=0`` (docs/benchmarks.md, "Refactor
check"); now a process that never finds features or picture boxes never loads it.
"""

from __future__ import annotations

import ctypes
import importlib
from pathlib import Path
from types import ModuleType
from typing import Any


class _OnFirstUse:
    """Stands for the ``cv2`` module; the first attribute read imports it."""

    _module: ModuleType | None = None

    def __getattr__(self, name: str) -> Any:
        if _OnFirstUse._module is None:
            module = importlib.import_module("cv2")
            one_blas_thread(module)
            _OnFirstUse._module = module
        return getattr(_OnFirstUse._module, name)


def one_blas_thread(module: ModuleType) -> int | None:
    """Make the OpenBLAS that the OpenCV wheel bundles (``cv2.gemm`` runs on it) use one
    thread; returns its thread count after, None where there is none. Copy verification's
    products are small (500 × 128 × 500): split over both cores, OpenBLAS spin-waits for the
    other thread, and on a busy machine that cost 2-3× the wall time of a whole search
    (docs/benchmarks.md "Copy search"). Nothing else in OpenCV that copy search calls uses it."""
    libraries = Path(module.__file__).resolve().parent.parent / "opencv_python_headless.libs"
    for path in sorted(libraries.glob("libopenblas*.so*")):
        try:
            blas = ctypes.CDLL(str(path))  # already loaded by cv2: the same library
            blas.openblas_set_num_threads(1)
            return int(blas.openblas_get_num_threads())
        except (OSError, AttributeError):
            return None
    return None


cv2: Any = _OnFirstUse()
