"""EfficientNet-Lite0/1/2: SavedModels built from packaged weights (``efficientnet_lite/``),
run by LiteRT or TensorFlow (``savedmodel.from_directory``). One registered class per variant."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from django.conf import settings

from search.encoding.model_inputs import ModelInputRecipe
from search.encoding.preprocessing import model_input_recipe

from .base import Encoder, EncoderEntry
from .efficientnet_lite import build as lite_build
from .litert import read_verification
from .savedmodel import from_directory
from .tfhub import spec_for_directory, vector_fingerprint


class EfficientNetLite(EncoderEntry):
    """A prepared build under ``CRIER_MODEL_DIR/<name>``; the encoder object it makes is the
    runtime's (``LiteRTEncoder`` or ``TFHubEncoder``)."""

    selectable: ClassVar[bool] = True

    @classmethod
    def directory(cls) -> Path:
        return Path(settings.CRIER_MODEL_DIR) / cls.name

    @classmethod
    def create(cls) -> Encoder:
        # Cheap when already built: it only compares the manifest's fingerprint.
        directory = lite_build.build(cls.name, Path(settings.CRIER_MODEL_DIR))
        # Our own builds convert on first use, like the SavedModel build itself; a conversion
        # that failed for these weights is not retried here (``encoder prepare`` retries it).
        record = read_verification(directory)
        current = spec_for_directory(directory).fingerprint
        tried = record is not None and record.fingerprint == current
        return from_directory(directory, cls.name, convert=not tried)

    @classmethod
    def is_prepared(cls) -> bool:
        variant = lite_build.VARIANTS[cls.name]
        return lite_build.is_built(cls.directory(), lite_build.manifest_for(variant))

    @classmethod
    def prepared_input_recipe(cls) -> ModelInputRecipe | None:
        """From the prepared build's manifest, without loading the model."""
        if not cls.is_prepared():
            return None
        spec = spec_for_directory(cls.directory())
        if not spec.input_size:
            return None
        return model_input_recipe(vector_fingerprint(spec), spec.input_size, spec.crop_fraction)


class EfficientNetLite0(EfficientNetLite):
    name = "efficientnet-lite0"
    label = "EfficientNet-Lite0 (fastest)"


class EfficientNetLite1(EfficientNetLite):
    name = "efficientnet-lite1"
    label = "EfficientNet-Lite1 (slower)"


class EfficientNetLite2(EfficientNetLite):
    name = "efficientnet-lite2"
    label = "EfficientNet-Lite2 (slowest)"
