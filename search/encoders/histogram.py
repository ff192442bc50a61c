"""The seed's colour baseline: an 8x8x8 RGB histogram plus the mean of each channel."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .base import Encoder, l2_normalise

BINS = 8
SIZE = 128  # histograms barely change with resolution; a small image keeps this cheap


class HistogramEncoder(Encoder):
    name = "histogram"
    label = "Colour histogram (colours only)"
    selectable = True
    dim = BINS**3 + 3
    input_size = SIZE
    source = "builtin"
    fingerprint_parts = {"kind": "histogram", "version": 1, "bins": BINS, "size": SIZE}

    takes_model_pixels = True

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """Pixels scaled to [0, 1] (not L2-normalised raw pixels like the seed did)."""
        return self.input_from_pixels(self.model_pixels(image.convert("RGB")))

    def input_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return np.asarray(pixels, dtype=np.float32) / np.float32(255.0)

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, dtype=np.float32)
        n = batch.shape[0]
        pixels = batch.reshape(n, -1, 3)
        bins = np.minimum((pixels * BINS).astype(np.int64), BINS - 1)
        codes = (bins[..., 0] * BINS + bins[..., 1]) * BINS + bins[..., 2]
        offsets = (np.arange(n) * BINS**3)[:, None]
        hist = np.bincount((codes + offsets).ravel(), minlength=n * BINS**3)
        hist = hist.reshape(n, BINS**3).astype(np.float32) / np.float32(pixels.shape[1])
        means = pixels.mean(axis=1)
        return l2_normalise(np.concatenate([hist, means], axis=1))
