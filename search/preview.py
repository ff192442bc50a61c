"""The small preview of a query image that the result page shows."""

from __future__ import annotations

import base64
import io

from PIL import Image

from crier_site.errors import CrierError
from search.preprocessing import open_image
from search.regions import Region

PREVIEW_SIDE = 320


def query_preview_data_url(data: bytes, region: Region | None = None) -> str | None:
    """A small re-encoded JPEG of the query (of its region, if one was searched) as a data URL;
    never the uploaded bytes themselves. ``None`` if the image cannot be opened."""
    try:
        image = open_image(data)
        if region is not None:
            image = region.crop(image)
    except CrierError:
        return None
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
