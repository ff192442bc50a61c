"""schemathesis hooks for tests/e2e/test_api_fuzz.py: what a valid picture is.

The schema says the search's ``image`` part is a picture (its multipart encoding lists the image
media types, ``corpora.validation.IMAGE_MEDIA_TYPES``); a JSON Schema cannot say which bytes
decode as one, so the generator is taught here, as schemathesis intends
(``schemathesis.openapi.media_type``). Random pictures: any size from 8 to 96 pixels a side,
any colours."""

from __future__ import annotations

import io

import schemathesis
from hypothesis import strategies as st
from PIL import Image


def _encoded(fmt: str):
    def encode(args: tuple[int, int, tuple[int, int, int], tuple[int, int, int]]) -> bytes:
        width, height, background, foreground = args
        image = Image.new("RGB", (width, height), background)
        image.paste(foreground, (0, 0, max(1, width // 2), max(1, height // 2)))
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        return buffer.getvalue()

    return encode


_colour = st.tuples(*[st.integers(0, 255)] * 3)
_pictures = st.tuples(st.integers(8, 96), st.integers(8, 96), _colour, _colour)

schemathesis.openapi.media_type("image/png", _pictures.map(_encoded("PNG")))
schemathesis.openapi.media_type("image/jpeg", _pictures.map(_encoded("JPEG")))
