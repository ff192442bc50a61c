"""The one gate every image passes, by content, never by name: uploads, imports and queries.

``decode_image`` decides whether bytes are an acceptable image (format, byte cap, pixel cap,
decompression bombs, damage) and, in the same single decode, returns the picture as plain RGB
with its EXIF orientation applied, decoded only as large as the caller needs (JPEG DCT scaling
with ``draft()``, then ``reduce()``). Every refusal is a ``CrierError`` whose status and message
are the same wherever the bytes came from.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import warnings
from dataclasses import dataclass, field
from typing import IO

import numpy as np
from django.conf import settings
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from corpora.exif import ExifFacts, read_exif
from crier_site.errors import InvalidInput, PayloadTooLarge

# Every extension a file of each format may carry (``.jpg`` first: the one stored files get).
SUFFIXES = {
    "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "MPO": (".jpg", ".mpo"),
    "PNG": (".png",),
    "WEBP": (".webp",),
    "GIF": (".gif",),
    "BMP": (".bmp",),
    "TIFF": (".tif", ".tiff"),
}
SUPPORTED_FORMATS = frozenset(SUFFIXES)
# The same formats as media types, as an OpenAPI multipart encoding's contentType lists them.
IMAGE_MEDIA_TYPES = "image/jpeg, image/png, image/webp, image/gif, image/bmp, image/tiff"
_DRAFTABLE = frozenset({"JPEG", "MPO"})
_ORIENTATION_TAG = 0x0112
_SWAPS_SIDES = {5, 6, 7, 8}  # EXIF orientations that turn the picture by 90°
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_SRGB = ImageCms.createProfile("sRGB")
_OBJECT_REPR = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")
# A damaged file can make Pillow raise almost anything: OSError, SyntaxError, ValueError,
# EOFError, IndexError, struct.error, TypeError ("Missing dimensions" from a TIFF's n_frames),
# ZeroDivisionError, KeyError, RecursionError (nested IFDs), MemoryError... Every one of them
# is a refusal of the file (tests/corpora/test_decode_fuzz.py mutates files of each format).
_DECODE_ERRORS = (Exception,)


@dataclass(frozen=True)
class ImageInfo:
    """Facts about an accepted image; ``width``/``height`` are as displayed (EXIF-oriented)."""

    sha256: str
    width: int
    height: int
    format: str
    byte_size: int
    exif: ExifFacts = field(default_factory=ExifFacts)

    @property
    def extension(self) -> str:
        return extension_for(self.format)


@dataclass(frozen=True)
class DecodedImage:
    info: ImageInfo
    image: Image.Image  # RGB, oriented, first frame; short side >= min_side where it was larger


def decode_image(
    data: bytes, *, min_side: int | None = None, digest: bool = True
) -> DecodedImage:
    """Accept ``data`` as an image and decode it once, or raise ``InvalidInput`` (400) /
    ``PayloadTooLarge`` (413) saying why not.

    With ``min_side`` the picture is decoded at the smallest scale whose short side is still
    at least ``min_side`` pixels (never upscaled): JPEGs by DCT scaling, which still reads the
    whole stream (so truncation is caught), other formats by an integer box ``reduce()``.
    ``digest=False`` leaves ``info.sha256`` empty, for callers that store nothing (queries;
    hashing a 4 MB photo costs ~2 ms).
    """
    max_bytes = settings.CRIER_MAX_UPLOAD_BYTES
    if not data:
        raise InvalidInput("The file is empty.")
    if len(data) > max_bytes:
        raise too_many_bytes(len(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image, fmt, width, height = _open_checked(data)
            _decode(image, fmt, min_side)
            exif = read_exif(image)  # from the image just decoded: no second decode
            if _orientation(image) in _SWAPS_SIDES:
                width, height = height, width
            picture = _prepare(image, min_side)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many_pixels(*_declared_size(data)) from None
    except UnidentifiedImageError:
        raise InvalidInput("Not an image file (or an image format CRIER cannot read).") from None
    except (InvalidInput, PayloadTooLarge):
        raise
    except _DECODE_ERRORS as exc:
        raise InvalidInput(f"The image is damaged and cannot be decoded: {_clean(exc)}") from None
    info = ImageInfo(
        sha256=hashlib.sha256(data).hexdigest() if digest else "",
        width=width,
        height=height,
        format="JPEG" if fmt == "MPO" else fmt,
        byte_size=len(data),
        exif=exif,
    )
    return DecodedImage(info=info, image=picture)


def accepted_suffixes() -> list[str]:
    """Every file name ending an accepted image may carry (a hint for browsers: the content
    decides)."""
    return sorted({suffix for suffixes in SUFFIXES.values() for suffix in suffixes})


def extension_for(fmt: str) -> str:
    """The extension a stored file of Pillow format ``fmt`` gets (``.bin`` if unknown)."""
    return SUFFIXES.get(fmt.upper(), (".bin",))[0]


def name_with_extension(name: str, fmt: str) -> str:
    """``name`` if its extension fits ``fmt``, else ``name`` + the format's extension, so a
    PNG uploaded as ``index.html`` is exported as ``index.html.png`` (and imported again)."""
    suffixes = SUFFIXES.get(fmt.upper())
    if not suffixes or name.lower().endswith(suffixes):
        return name
    return name + extension_for(fmt)


def read_limited(handle: IO[bytes], *, declared_size: int | None = None) -> bytes:
    """The bytes of an uploaded or imported file, never more than the byte cap + 1 (so a huge
    file is refused without being read into memory); the same message as ``decode_image``."""
    max_bytes = settings.CRIER_MAX_UPLOAD_BYTES
    if declared_size is not None and declared_size > max_bytes:
        raise too_many_bytes(declared_size)
    data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise too_many_bytes(declared_size or _stream_size(handle))
    return data


def too_many_bytes(size: int | None) -> PayloadTooLarge:
    limit = settings.CRIER_MAX_UPLOAD_BYTES
    what = f"The file is {_mib(size)}" if size else f"The file is larger than {_mib(limit)}"
    return PayloadTooLarge(f"{what}; CRIER accepts at most {_mib(limit)} per image.")


def too_many_pixels(width: int | None, height: int | None) -> PayloadTooLarge:
    limit = settings.CRIER_MAX_IMAGE_PIXELS
    if width and height:
        size = f"{width}×{height} pixels ({width * height:,})"
    else:
        size = "more pixels than that"
    return PayloadTooLarge(
        f"The image is {size}; CRIER accepts at most {limit:,} pixels per image (larger ones "
        "are refused as possible decompression bombs)."
    )


def prepare_picture(image: Image.Image, *, min_side: int | None = None) -> Image.Image:
    """A decoded image as the rest of CRIER wants it: EXIF orientation applied, plain RGB, box-
    reduced to no less than ``min_side`` on its short side. Never the caller's own object."""
    if getattr(image, "n_frames", 1) > 1 and image.tell() != 0:
        image.seek(0)
    picture = _prepare(image, min_side)
    return picture.copy() if picture is image else picture


def _prepare(image: Image.Image, min_side: int | None) -> Image.Image:
    if _orientation(image) not in (None, 1):
        # Corrupt EXIF must not make a good photo unreadable.
        with contextlib.suppress(Exception):
            image = ImageOps.exif_transpose(image)
    return _shrink(to_rgb(image), min_side)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB; transparency is composited on white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "CMYK":
        return _cmyk_to_rgb(image)
    if mode.startswith("I") or mode == "F":
        return _high_bit_depth_to_l(image).convert("RGB")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in _ALPHA_MODES or (mode in {"L", "RGB"} and "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    return image.convert("RGB")


def _open_checked(data: bytes) -> tuple[Image.Image, str, int, int]:
    image = Image.open(io.BytesIO(data))
    fmt = (image.format or "").upper()
    if fmt not in SUPPORTED_FORMATS:
        names = ", ".join(sorted(SUPPORTED_FORMATS - {"MPO"}))
        raise InvalidInput(f"Unsupported image format {fmt or 'unknown'}; use one of {names}.")
    width, height = image.size
    if width * height > settings.CRIER_MAX_IMAGE_PIXELS:
        raise too_many_pixels(width, height)
    return image, fmt, width, height


def _decode(image: Image.Image, fmt: str, min_side: int | None) -> None:
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    if min_side and fmt in _DRAFTABLE:
        # Pillow picks the largest 1/2, 1/4 or 1/8 scale that keeps both sides >= the request.
        image.draft("RGB", (min_side, min_side))
    image.load()


def _orientation(image: Image.Image) -> int | None:
    try:
        return image.getexif().get(_ORIENTATION_TAG)
    except Exception:  # corrupt EXIF: treat as unrotated
        return None


def _shrink(image: Image.Image, min_side: int | None) -> Image.Image:
    """Box-reduce by the largest whole factor that keeps the short side >= ``min_side``."""
    if min_side:
        factor = min(image.size) // min_side
        if factor >= 2:
            return image.reduce(factor)
    return image


def _declared_size(data: bytes) -> tuple[int | None, int | None]:
    """Width and height from the header of an image Pillow refused to open as a bomb."""
    prefix = data[:16]
    for fmt in SUPPORTED_FORMATS:
        factory, accept = Image.OPEN.get(fmt, (None, None))
        if factory is None or (accept and not accept(prefix)):
            continue
        try:
            return factory(io.BytesIO(data), "").size
        except Exception:
            continue
    return None, None


def _high_bit_depth_to_l(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale ("I;16", "I", "F") to 8-bit "L", keeping the full range."""
    data = np.asarray(image)
    if image.mode.startswith("I;16") or (image.mode == "I" and data.max(initial=0) > 255):
        data = data.astype(np.float32) / 257.0
    elif image.mode == "F" and data.max(initial=0) <= 1.0:
        data = data * 255.0
    return Image.fromarray(np.clip(np.rint(data), 0, 255).astype(np.uint8), "L")


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    profile = image.info.get("icc_profile")
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
        except Exception:  # a broken profile falls back to the naive conversion
            pass
    return image.convert("RGB")


def _clean(exc: BaseException) -> str:
    """Pillow's reason, without Python object reprs such as ``<_io.BytesIO object at 0x…>``."""
    text = _OBJECT_REPR.sub("the file", str(exc)).strip()
    return text or type(exc).__name__


def _stream_size(handle: IO[bytes]) -> int | None:
    try:
        return handle.seek(0, io.SEEK_END)
    except (OSError, AttributeError, ValueError):
        return None


def _mib(size: int) -> str:
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} MiB"
    if size >= 1 << 10:
        return f"{size / (1 << 10):.1f} KiB"
    return f"{size} bytes"
