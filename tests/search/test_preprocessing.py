"""open_image turns real-world files into plain RGB: odd modes, EXIF, animation, bad data."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from crier_site.errors import InvalidInput, PayloadTooLarge
from search.encoding.preprocessing import open_image, resize_for_model, scale_pixels


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _halves(size=(40, 20), left=(255, 0, 0), right=(0, 0, 255)) -> Image.Image:
    image = Image.new("RGB", size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (32, 24), (0, 255, 255, 0))  # pure red in CMYK
    image = open_image(_encode(cmyk, "JPEG", quality=95))
    assert image.mode == "RGB" and image.size == (32, 24)
    r, g, b = np.asarray(image).reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 60 and b < 60


def test_16_bit_png_keeps_its_range():
    ramp = np.linspace(0, 65535, 64 * 16).reshape(16, 64).astype(np.uint16)
    data = _encode(Image.fromarray(ramp), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    pixels = np.asarray(open_image(data))
    assert pixels.shape == (16, 64, 3)
    assert pixels.min() == 0 and pixels.max() == 255
    assert np.all(pixels[..., 0] == pixels[..., 1])


def test_palette_gif_transparency_is_white():
    image = Image.new("P", (20, 20), 0)
    image.putpalette([0, 128, 0] + [255, 0, 0] * 255)
    image.paste(1, (0, 0, 10, 20))  # left half red, right half index 0 = transparent
    data = _encode(image, "GIF", transparency=0)
    pixels = np.asarray(open_image(data))
    assert tuple(pixels[10, 15]) == (255, 255, 255)
    assert tuple(pixels[10, 2]) == (255, 0, 0)


def test_alpha_is_composited_on_white():
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    rgba.paste((0, 0, 0, 255), (0, 0, 5, 10))
    pixels = np.asarray(open_image(_encode(rgba, "PNG")))
    assert tuple(pixels[5, 8]) == (255, 255, 255)
    assert tuple(pixels[5, 1]) == (0, 0, 0)
    la = Image.new("LA", (4, 4), (0, 128))
    assert tuple(np.asarray(open_image(la))[0, 0]) == (127, 127, 127)


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    data = _encode(_halves(), "JPEG", quality=95, exif=exif.tobytes())
    image = open_image(data)
    assert image.size == (20, 40)
    pixels = np.asarray(image).astype(int)
    assert pixels[5, 10, 0] > 200 and pixels[5, 10, 2] < 60  # the left half is now on top
    assert pixels[35, 10, 2] > 200 and pixels[35, 10, 0] < 60


def test_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (16, 16), c) for c in [(255, 0, 0), (0, 0, 255), (0, 255, 0)]]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50)
    source = Image.open(io.BytesIO(buffer.getvalue()))
    source.seek(2)
    assert tuple(np.asarray(open_image(source))[8, 8]) == (255, 0, 0)
    assert tuple(np.asarray(open_image(buffer.getvalue()))[8, 8]) == (255, 0, 0)


def test_greyscale_and_bilevel():
    grey = open_image(_encode(Image.new("L", (8, 6), 90), "PNG"))
    assert grey.mode == "RGB" and tuple(np.asarray(grey)[0, 0]) == (90, 90, 90)
    assert open_image(Image.new("1", (8, 6), 1)).getpixel((0, 0)) == (255, 255, 255)


def test_sources_path_bytes_file_and_image(tmp_path):
    path = tmp_path / "photo.png"
    _halves().save(path)
    original = Image.open(path)
    results = [open_image(path), open_image(str(path)), open_image(path.read_bytes())]
    with open(path, "rb") as f:
        results.append(open_image(f))
    results.append(open_image(original))
    for image in results:
        assert np.array_equal(np.asarray(image), np.asarray(results[0]))
    assert results[-1] is not original


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"not an image at all", "Not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "Not an image"),
    ],
)
def test_undecodable_data_is_invalid_input(data, reason):
    with pytest.raises(InvalidInput, match=reason) as caught:
        open_image(data)
    assert " at 0x" not in caught.value.message  # never a Python object repr


def test_truncated_jpeg_is_invalid_input():
    data = _encode(Image.effect_noise((200, 200), 40).convert("RGB"), "JPEG")
    with pytest.raises(InvalidInput, match="damaged"):
        open_image(data[: len(data) // 3])


def test_missing_file_is_invalid_input(tmp_path):
    with pytest.raises(InvalidInput):
        open_image(tmp_path / "nope.jpg")


def test_too_many_pixels(settings):
    settings.CRIER_MAX_IMAGE_PIXELS = 100
    with pytest.raises(PayloadTooLarge):
        open_image(_encode(Image.new("RGB", (20, 20)), "PNG"))


def test_resize_for_model_centre_crop_and_squash():
    image = _halves((300, 100), left=(255, 0, 0), right=(0, 0, 255))
    image.paste((0, 255, 0), (100, 0, 200, 100))  # a green centre third
    cropped = resize_for_model(image, 32, crop_fraction=1.0)
    assert cropped.size == (32, 32)
    assert tuple(np.asarray(cropped)[16, 16]) == (0, 255, 0)
    squashed = np.asarray(resize_for_model(image, 30, crop_fraction=None))
    assert squashed.shape == (30, 30, 3) and squashed[15, 1, 0] == 255
    scaled = scale_pixels(cropped, 127.0, 128.0)
    assert scaled.dtype == np.float32 and scaled.min() >= -1 and scaled.max() <= 1
