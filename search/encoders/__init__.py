"""Image encoders: images in, L2-normalised float32 vectors out. See docs/encoders.md."""

from .base import Encoder, EncoderError
from .registry import (
    encoder_choices,
    encoder_names,
    get_encoder,
    is_model_handle,
    prepare_encoder,
)

__all__ = [
    "Encoder",
    "EncoderError",
    "encoder_choices",
    "encoder_names",
    "get_encoder",
    "is_model_handle",
    "prepare_encoder",
]
