"""Facts a camera wrote into an image's EXIF block: when, with what, and where.

Read from the already opened Pillow image (the header only: no pixels are decoded). Every field
is read on its own and anything malformed is simply left out: bad EXIF never fails ingestion.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from PIL import ExifTags, Image

from corpora.filenames import printable

logger = logging.getLogger(__name__)

_MAKE, _MODEL, _DATETIME = 0x010F, 0x0110, 0x0132
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_OFFSET_TIME_ORIGINAL, _OFFSET_TIME = 0x9011, 0x9010
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
TEXT_LIMIT = 100


@dataclass(frozen=True)
class ExifFacts:
    taken_at: datetime | None = None
    camera_make: str = ""
    camera_model: str = ""
    latitude: float | None = None
    longitude: float | None = None


def read_exif(image: Image.Image) -> ExifFacts:
    """What ``image``'s EXIF says, each field ``None``/empty when absent or unreadable."""
    try:
        exif = image.getexif()
    except Exception as exc:  # a broken EXIF block must never stop an upload
        logger.info("Unreadable EXIF ignored: %s", exc)
        return ExifFacts()
    if not exif:
        return ExifFacts()
    details = _ifd(exif, ExifTags.IFD.Exif)
    gps = _ifd(exif, ExifTags.IFD.GPSInfo)
    latitude = _coordinate(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "N", "S", 90.0)
    longitude = _coordinate(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "E", "W", 180.0)
    if latitude is None or longitude is None:
        latitude = longitude = None
    return ExifFacts(
        taken_at=_taken_at(exif, details),
        camera_make=_text(exif.get(_MAKE)),
        camera_model=_text(exif.get(_MODEL)),
        latitude=latitude,
        longitude=longitude,
    )


def _ifd(exif: Image.Exif, tag: int) -> dict:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:
        return {}


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    return printable(value)[:TEXT_LIMIT]


def _taken_at(exif: Image.Exif, details: dict) -> datetime | None:
    """DateTimeOriginal (else Digitized, else the file's DateTime). EXIF times are the camera's
    local time; with an OffsetTime tag they become exact, without one they are taken as UTC."""
    for tag, offset_tag in (
        (_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL),
        (_DATETIME_DIGITIZED, _OFFSET_TIME),
    ):
        moment = _parse_time(details.get(tag), details.get(offset_tag))
        if moment is not None:
            return moment
    return _parse_time(exif.get(_DATETIME), details.get(_OFFSET_TIME))


def _parse_time(value: object, offset: object) -> datetime | None:
    text = _text(value).rstrip("\x00")
    if not text:
        return None
    try:
        moment = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if not 1900 <= moment.year <= 2200:
        return None
    return moment.replace(tzinfo=_zone(_text(offset)))


def _zone(offset: str) -> timezone:
    try:
        sign = -1 if offset.startswith("-") else 1
        hours, minutes = offset.lstrip("+-").split(":")
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta <= timedelta(hours=14):
            return timezone(sign * delta)
    except (ValueError, AttributeError):
        pass
    return UTC


def _coordinate(value: object, ref: object, positive: str, negative: str, limit: float):
    """Degrees, minutes, seconds (three rationals) and a hemisphere letter → signed degrees."""
    try:
        degrees, minutes, seconds = (float(part) for part in value)  # type: ignore[union-attr]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = degrees + minutes / 60 + seconds / 3600
    hemisphere = _text(ref).upper()[:1]
    if hemisphere == negative:
        result = -result
    elif hemisphere and hemisphere != positive:
        return None
    if not math.isfinite(result) or abs(result) > limit:
        return None
    return round(result, 7)
