"""EfficientNet-Lite stage layouts (kept apart from the network so reading them needs no
TensorFlow). Lite differs from EfficientNet-B*: the 32-channel stem, the 1280-channel head and
the first and last stage's repeats are not scaled with width or depth."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    channels_in: int
    channels_out: int


LITE0_STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)
# Lite1/Lite2 scale depth (and Lite2 width) but keep the first and last stage's repeats, the
# stem and the head: the layouts below match the packaged state dicts block for block.
LITE1_STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(3, 3, 2, 6, 16, 24),
    Stage(3, 5, 2, 6, 24, 40),
    Stage(4, 3, 2, 6, 40, 80),
    Stage(4, 5, 1, 6, 80, 112),
    Stage(5, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)
LITE2_STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(3, 3, 2, 6, 16, 24),
    Stage(3, 5, 2, 6, 24, 48),
    Stage(4, 3, 2, 6, 48, 88),
    Stage(4, 5, 1, 6, 88, 120),
    Stage(5, 5, 2, 6, 120, 208),
    Stage(1, 3, 1, 6, 208, 352),
)
