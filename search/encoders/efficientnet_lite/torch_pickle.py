"""Read a legacy (pre-zip) ``torch.save`` file with pickle and numpy only, no torch.

Layout: pickles of the magic number, the protocol version and the system info, then the pickled
object (tensors reference their storages through persistent ids), then the pickled list of
storage keys, then for each key in that order an int64 element count and the storage's raw bytes.
Only the few globals a state dict needs are allowed, so a hostile file cannot run code.
"""

from __future__ import annotations

import collections
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class TorchPickleError(ValueError):
    pass


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """Placeholder filled with the raw bytes once the whole object graph is read."""

    def __init__(self, dtype: np.dtype, numel: int) -> None:
        self.dtype = dtype
        self.numel = numel
        self.data: np.ndarray | None = None


class _TensorRef:
    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def materialise(self) -> np.ndarray:
        data = self.storage.data
        assert data is not None
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.size,
            strides=tuple(s * item for s in self.stride),
            writeable=False,
        )
        return np.array(view, copy=True)


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, hooks=None, metadata=None
):
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, hooks=None):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file, encoding="latin1")
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise TorchPickleError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid: Any) -> _Storage:
        kind, storage_type, key, _location, numel = pid[:5]
        if kind != "storage" or (len(pid) > 5 and pid[5] is not None):
            raise TorchPickleError(f"unsupported persistent id {pid!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, int(numel))
        return self.storages[key]


def _resolve(obj: Any) -> Any:
    if isinstance(obj, _TensorRef):
        return obj.materialise()
    if isinstance(obj, dict):
        return type(obj)((k, _resolve(v)) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_resolve(v) for v in obj)
    return obj


def load_legacy_torch_file(path: str | Path) -> dict[str, np.ndarray]:
    """Return the state dict stored in ``path`` as ``{name: numpy array}`` (C-contiguous copies)."""
    with open(path, "rb") as f:
        if pickle.load(f) != MAGIC_NUMBER:
            raise TorchPickleError(f"{path} is not a legacy torch file (bad magic number)")
        if pickle.load(f) != PROTOCOL_VERSION:
            raise TorchPickleError(f"{path}: unsupported torch protocol version")
        sys_info = pickle.load(f)
        if not sys_info.get("little_endian", True):
            raise TorchPickleError(f"{path}: big-endian torch files are not supported")
        unpickler = _Unpickler(f)
        result = unpickler.load()
        keys = _Unpickler(f).load()
        for key in keys:
            storage = unpickler.storages[key]
            (numel,) = np.frombuffer(f.read(8), dtype="<i8")
            if numel != storage.numel:
                raise TorchPickleError(f"{path}: storage {key} size mismatch")
            raw = f.read(int(numel) * storage.dtype.itemsize)
            if len(raw) != int(numel) * storage.dtype.itemsize:
                raise TorchPickleError(f"{path}: truncated storage {key}")
            storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
    return _resolve(result)
