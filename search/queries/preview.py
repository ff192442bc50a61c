"""The small preview of a query image that the result page shows."""

from __future__ import annotations

import base64
import io

from PIL import Image

PREVIEW_SIDE = 320


def query_preview_data_url(picture: Image.Image | None) -> str | None:
    """A small re-encoded JPEG of the query as it was searched (already decoded, its region
    cut out if one was chosen) as a data URL; never the uploaded bytes themselves."""
    if picture is None:
        return None
    image = picture.copy()
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
