"""The decode gate (corpora.validation.decode_image) answers every damaged file with a refusal
(400, or 413 for a bomb), never an unexpected exception: issue #25 found damaged TIFFs whose
``n_frames`` raised ``TypeError("Missing dimensions")``, a 500 on upload and on search.

Mutations of real files of each supported format, from a fixed seed: most go straight to the
gate (fast), a sample through the API's upload and anonymous search endpoints.
"""

from __future__ import annotations

import io
import random
import struct

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from corpora import validation
from corpora.models import Visibility
from corpora.validation import decode_image
from crier_site.errors import CrierError, InvalidInput
from tests.factories import image_bytes, searchable_corpus

# Pillow warns about much of what it reads here ("Corrupt EXIF data", "Truncated File Read").
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SEED = 25
CASES_PER_FORMAT = 600  # 6 formats x 600 = 3,600 inputs through the gate (~2-4 s)
API_SAMPLE = 24  # per format, through each endpoint


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _picture(size=(40, 30), mode="RGB") -> Image.Image:
    """A patterned picture (flat colours would compress to almost nothing to damage)."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata(
        [
            ((x * 37) % 256, (y * 53) % 256, (x * y) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    return image.convert(mode)


def _originals() -> dict[str, list[bytes]]:
    """Small valid files of each format, in the variants whose parsers differ."""
    rgb, grey, palette = _picture(), _picture(mode="L"), _picture(mode="P")
    exif = Image.Exif()
    exif[0x0112] = 6  # turned by 90°: the orientation path runs too
    frames = [_picture(), _picture().rotate(180)]
    return {
        "JPEG": [
            _save(rgb, "JPEG", quality=80),
            _save(rgb, "JPEG", quality=70, progressive=True, exif=exif.tobytes()),
            _save(grey, "JPEG"),
        ],
        "PNG": [
            _save(rgb, "PNG"),
            _save(palette, "PNG", transparency=0),
            _save(_picture(mode="RGBA"), "PNG"),
        ],
        "WEBP": [_save(rgb, "WEBP", quality=70), _save(rgb, "WEBP", lossless=True)],
        "GIF": [
            _save(palette, "GIF"),
            _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50),
        ],
        "BMP": [_save(rgb, "BMP"), _save(palette, "BMP")],
        "TIFF": [
            _save(rgb, "TIFF"),
            _save(rgb, "TIFF", compression="tiff_lzw"),
            _save(frames[0], "TIFF", save_all=True, append_images=frames[1:]),
            _save(grey, "TIFF", compression="packbits"),
        ],
    }


_INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0xFE, 0x10, 0x40]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random damage: bit flips, overwritten bytes or 16/32-bit fields (often in the
    header, where the structure is), truncation, a removed, repeated or inserted slice."""
    out = bytearray(data)
    if len(out) < 2:
        return bytes(out) + bytes([rng.randrange(256)])
    kind = rng.randrange(7)
    header = min(len(out), 512)

    def spot() -> int:
        return rng.randrange(header) if rng.random() < 0.7 else rng.randrange(len(out))

    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            out[spot()] ^= 1 << rng.randrange(8)
    elif kind == 1:
        for _ in range(rng.randint(1, 4)):
            out[spot()] = rng.choice(_INTERESTING) if rng.random() < 0.5 else rng.randrange(256)
    elif kind == 2:
        at = spot()
        value = rng.choice([0, 1, 0xFFFF, 0x7FFF, 0x8000, 0xFFFFFFFF, 0x7FFFFFFF, len(out) * 4])
        fmt = rng.choice(["<I", ">I"] if value > 0xFFFF else ["<I", ">I", "<H", ">H"])
        packed = struct.pack(fmt, value)
        out[at : at + len(packed)] = packed
    elif kind == 3:
        del out[rng.randrange(1, len(out)) :]
    elif kind == 4:
        start = spot()
        del out[start : start + rng.randint(1, 64)]
    elif kind == 5:
        start = spot()
        chunk = out[start : start + rng.randint(1, 64)]
        out[start:start] = chunk * rng.randint(1, 3)
    else:
        at = spot()
        out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(out)


def fuzz_cases(per_format: int) -> list[tuple[str, int, bytes]]:
    rng = random.Random(SEED)
    cases = []
    for fmt, originals in _originals().items():
        for i in range(per_format):
            data = originals[i % len(originals)]
            for _ in range(1 + (i % 3 == 0)):  # a third get two damages
                data = mutate(data, rng)
            cases.append((fmt, i, data))
    return cases


def missing_dimensions_tiff() -> bytes:
    """A two-page TIFF whose second page lost its ImageWidth tag (256): opening it works, but
    ``n_frames`` raises ``TypeError("Missing dimensions")``, which the gate let through (a 500
    on upload and on search) before."""
    frames = [_picture(), _picture().rotate(180)]
    data = bytearray(_save(frames[0], "TIFF", save_all=True, append_images=frames[1:]))
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    (ifd,) = struct.unpack_from("<I", data, ifd + 2 + 12 * count)  # the second page's
    (count,) = struct.unpack_from("<H", data, ifd)
    for entry in range(count):
        at = ifd + 2 + 12 * entry
        if struct.unpack_from("<H", data, at)[0] == 256:
            struct.pack_into("<H", data, at, 0x7FF0)
            return bytes(data)
    raise AssertionError("no ImageWidth tag")


def test_a_tiff_without_dimensions_is_refused_as_damaged():
    with pytest.raises(InvalidInput, match="damaged"):
        decode_image(missing_dimensions_tiff())


@pytest.mark.parametrize(
    "error",
    [
        TypeError("Missing dimensions"),
        ValueError("bad"),
        struct.error("unpack requires a buffer"),
        SyntaxError("not a TIFF"),
        OSError("broken data stream"),
        IndexError("list index out of range"),
        ZeroDivisionError("division by zero"),
        KeyError("tag"),
        RecursionError("maximum recursion depth exceeded"),
        EOFError(),
        MemoryError(),
    ],
    ids=lambda error: type(error).__name__,
)
def test_whatever_pillow_raises_for_a_file_is_a_refusal(monkeypatch, error):
    def damaged(*args, **kwargs):
        raise error

    monkeypatch.setattr(validation.Image, "open", damaged)
    with pytest.raises(InvalidInput, match="damaged"):
        decode_image(image_bytes())


def test_a_decompression_bomb_raised_while_decoding_is_refused_as_too_large(monkeypatch):
    def bomb(*args, **kwargs):
        raise Image.DecompressionBombError("too many pixels")

    monkeypatch.setattr(validation, "_decode", bomb)
    with pytest.raises(CrierError) as refused:
        decode_image(image_bytes())
    assert refused.value.status_code == 413


def test_thousands_of_damaged_files_are_each_accepted_or_refused_never_crash():
    cases = fuzz_cases(CASES_PER_FORMAT)
    assert len(cases) >= 3000
    unexpected, refused = [], 0
    for fmt, i, data in cases:
        for min_side in (None, 64):
            try:
                decode_image(data, min_side=min_side)
            except CrierError as exc:
                assert exc.status_code in (400, 413), (fmt, i, exc)
                refused += 1
            except BaseException as exc:  # exactly what this test looks for
                what = f"{type(exc).__name__}: {exc}"
                unexpected.append(f"{fmt} #{i} (min_side={min_side}): {what}")
    assert unexpected == []
    assert refused > len(cases) // 4  # the mutations do damage most files


@pytest.fixture
def public_corpus(user, settings):
    settings.CRIER_ENCODER = "histogram"
    return searchable_corpus(user, "fuzzed", visibility=Visibility.PUBLIC)


def _api_sample() -> list[tuple[str, int, bytes]]:
    rng = random.Random(SEED + 1)
    by_format: dict[str, list] = {}
    for case in fuzz_cases(CASES_PER_FORMAT):
        by_format.setdefault(case[0], []).append(case)
    return [case for cases in by_format.values() for case in rng.sample(cases, API_SAMPLE)]


@pytest.mark.django_db
def test_damaged_files_through_the_upload_api_are_rejected_one_by_one(user, public_corpus):
    client = APIClient()
    client.force_authenticate(user)
    url = reverse("api:image-list", args=[public_corpus.pk])
    sample = _api_sample()
    for start in range(0, len(sample), 24):
        batch = sample[start : start + 24]
        files = [
            SimpleUploadedFile(f"{fmt}-{i}.bin", data, "application/octet-stream")
            for fmt, i, data in batch
        ]
        response = client.post(url, {"images": files}, format="multipart")
        assert response.status_code == 202, response.content[:500]
        body = response.json()
        answered = len(body["accepted"]) + len(body["duplicates"]) + len(body["rejected"])
        assert answered == len(batch)


@pytest.mark.django_db
def test_damaged_queries_to_anonymous_search_get_4xx_never_500(public_corpus):
    client = APIClient()
    url = reverse("api:search", args=[public_corpus.pk])
    statuses = set()
    for k, (fmt, i, data) in enumerate(_api_sample()):
        query = SimpleUploadedFile(f"{fmt}-{i}.bin", data, "application/octet-stream")
        address = f"10.25.{k // 200}.{k % 200}"  # each its own anonymous budget
        response = client.post(url, {"image": query}, format="multipart", REMOTE_ADDR=address)
        assert response.status_code in (200, 400, 413), (fmt, i, response.content[:300])
        statuses.add(response.status_code)
    assert 400 in statuses
