"""Encoders: the converted EfficientNet-Lite0 is right (it names real photos), vectors behave,
odd images encode, TF Hub loads local SavedModels and fails clearly on URLs offline."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import skimage
from django.conf import settings
from django.core.management import call_command
from PIL import Image, ImageOps

from search.encoders import (
    Encoder,
    EncoderError,
    encoder_choices,
    encoder_names,
    get_encoder,
    prepare_encoder,
)
from search.encoders.base import with_preprocessing
from search.encoders.efficientnet_lite import build as lite_build
from search.encoders.tfhub import TFHubEncoder, spec_for_directory
from tests.factories import save_tiny_savedmodel

PHOTOS = Path(skimage.__file__).parent / "data"
EXPECTED = {  # photo -> acceptable ImageNet labels (any one in the top 5)
    "chelsea.png": {"tabby, tabby cat", "tiger cat", "Egyptian cat"},
    "coffee.png": {"cup", "espresso", "coffee mug"},
    "rocket.jpg": {"missile", "projectile, missile", "space shuttle"},
    "motorcycle_left.png": {"moped", "motor scooter, scooter"},
    "camera.png": {"tripod", "reflex camera"},  # greyscale
}
UNRELATED = ["chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "astronaut.png"]


def photo(name: str) -> Image.Image:
    return Image.open(PHOTOS / name).convert("RGB")


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def near_duplicates(image: Image.Image) -> list[Image.Image]:
    w, h = image.size
    return [
        image.resize((w // 2, h // 2), Image.Resampling.BILINEAR),
        jpeg(image, 30),
        ImageOps.mirror(image),
    ]


def augmented(count: int) -> list[Image.Image]:
    images = []
    for i in range(count):
        base = photo(UNRELATED[i % len(UNRELATED)])
        w, h = base.size
        shift = 4 * i
        crop = base.crop((shift, shift // 2, w - shift, h - shift // 3))
        images.append(ImageOps.mirror(crop) if i % 2 else crop)
    return images


@pytest.fixture(scope="module")
def lite0() -> Encoder:
    return get_encoder("efficientnet-lite0")


@pytest.fixture(scope="module")
def histogram() -> Encoder:
    return get_encoder("histogram")


@pytest.mark.slow
def test_registry_names_default_and_unknown(lite0):
    names = encoder_names()
    assert {"efficientnet-lite0", "histogram", "efficientnet-v2-s"} <= set(names)
    assert settings.CRIER_ENCODER == "efficientnet-lite0"
    assert get_encoder() is lite0 is get_encoder("efficientnet-lite0")
    assert prepare_encoder("efficientnet-lite0") is lite0
    with pytest.raises(EncoderError, match="efficientnet-lite0") as caught:
        get_encoder("no-such-encoder")
    assert "histogram" in caught.value.message


@pytest.mark.slow
def test_lite0_describes_itself(lite0):
    assert (lite0.name, lite0.dim, lite0.input_size) == ("efficientnet-lite0", 1280, 224)
    assert lite0.source == str(Path(settings.CRIER_MODEL_DIR) / "efficientnet-lite0")
    assert lite0.has_classifier()
    assert lite0.batch_size == settings.CRIER_ENCODE_BATCH_SIZE
    manifest = json.loads((Path(lite0.source) / "crier-encoder.json").read_text())
    # The model's fingerprint, plus the preprocessing version (a new one re-encodes vectors).
    assert lite0.fingerprint == with_preprocessing(manifest["fingerprint"])


@pytest.mark.slow
def test_classify_command_names_real_photos(capsys):
    paths = [str(PHOTOS / name) for name in EXPECTED]
    call_command("encoder", "classify", *paths, "--encoder", "efficientnet-lite0")
    blocks = capsys.readouterr().out.split(str(PHOTOS) + os.sep)[1:]
    assert len(blocks) == len(EXPECTED)
    for block in blocks:
        name, *lines = block.strip().splitlines()
        labels = {line.split("%", 1)[1].strip() for line in lines}
        assert len(labels) == 5
        assert labels & EXPECTED[name], f"{name}: top-5 {labels}"


@pytest.mark.parametrize(
    ("name", "size"), [("efficientnet-lite1", 240), ("efficientnet-lite2", 260)]
)
@pytest.mark.slow
def test_larger_lite_variants_name_real_photos(name, size):
    # Lite1/2 have more blocks (and Lite2 wider ones) than Lite0: a wrong layout would not load
    # or would misname the photos.
    encoder = get_encoder(name)
    assert (encoder.dim, encoder.input_size) == (1280, size)
    results = encoder.classify([photo(photo_name) for photo_name in EXPECTED], top=5)
    for photo_name, top5 in zip(EXPECTED, results, strict=True):
        assert {label for label, _ in top5} & EXPECTED[photo_name], f"{photo_name}: {top5}"
    assert encoder.fingerprint != get_encoder("efficientnet-lite0").fingerprint


@pytest.mark.slow
def test_classify_top1_and_probabilities(lite0):
    (cat, coffee) = lite0.classify([photo("chelsea.png"), PHOTOS / "coffee.png"], top=3)
    assert cat[0][0] in EXPECTED["chelsea.png"]
    assert coffee[0][0] == "espresso" and coffee[0][1] > 0.5
    assert all(0 < p <= 1 for _, p in cat) and cat[0][1] >= cat[1][1] >= cat[2][1]


@pytest.mark.slow
def test_vectors_normalised_deterministic_and_batch_independent(lite0):
    images = augmented(32)
    batch = np.stack([lite0.preprocess(image) for image in images])
    assert batch.shape == (32, 224, 224, 3) and batch.dtype == np.float32
    together = lite0.encode_batch(batch)
    one_by_one = np.concatenate([lite0.encode_batch(batch[i : i + 1]) for i in range(32)])
    assert together.shape == (32, 1280) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, one_by_one, atol=1e-4)
    np.testing.assert_array_equal(lite0.encode_batch(batch[:8]), lite0.encode_batch(batch[:8]))
    np.testing.assert_allclose(lite0.encode(images[:3]), together[:3], atol=1e-4)


@pytest.mark.slow
def test_inference_slice_setting_changes_speed_not_vectors(lite0, settings):
    default = TFHubEncoder(spec_for_directory(lite0.source), name="lite0-slice-4")
    settings.CRIER_INFERENCE_SLICE = 16
    sliced = TFHubEncoder(spec_for_directory(lite0.source), name="lite0-slice-16")
    assert (sliced.inference_slice, default.inference_slice) == (16, 4)
    assert sliced.fingerprint == default.fingerprint == lite0.fingerprint
    batch = np.stack([lite0.preprocess(image) for image in augmented(20)])
    np.testing.assert_allclose(sliced.encode_batch(batch), default.encode_batch(batch), atol=1e-4)


@pytest.mark.slow
def test_flip_averaged_vectors_ignore_mirroring(lite0):
    flip = get_encoder("efficientnet-lite0+flip")
    assert get_encoder("efficientnet-lite0+flip") is flip
    assert (flip.name, flip.dim, flip.base) == ("efficientnet-lite0+flip", 1280, lite0)
    assert flip.fingerprint != lite0.fingerprint
    cat = photo("chelsea.png")
    plain, mirrored = lite0.encode([cat, ImageOps.mirror(cat)])
    both = flip.encode([cat, ImageOps.mirror(cat)])
    assert plain @ mirrored < 0.999  # the plain encoder tells them apart a little
    np.testing.assert_allclose(both[0], both[1], atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(both, axis=1), 1.0, atol=1e-5)
    with pytest.raises(EncoderError):
        get_encoder("no-such-model+flip")


@pytest.mark.slow
def test_encode_empty_input(lite0, histogram):
    assert lite0.encode([]).shape == (0, 1280)
    assert histogram.encode([]).shape == (0, 515)


def _margin(encoder: Encoder) -> float:
    """Worst near-duplicate similarity minus best similarity between unrelated photos."""
    originals = [photo(name) for name in UNRELATED]
    base = encoder.encode(originals)
    worst_duplicate = min(
        float((encoder.encode(near_duplicates(image)) @ base[i]).min())
        for i, image in enumerate(originals)
    )
    similarity = base @ base.T
    best_unrelated = float(similarity[~np.eye(len(originals), dtype=bool)].max())
    return worst_duplicate - best_unrelated


@pytest.mark.slow
def test_near_duplicates_beat_unrelated_photos(lite0, histogram):
    lite_margin = _margin(lite0)
    histogram_margin = _margin(histogram)
    assert lite_margin > 0.3
    assert lite_margin > histogram_margin + 0.2


def test_histogram_encoder(histogram):
    assert (histogram.name, histogram.dim, histogram.source) == ("histogram", 515, "builtin")
    red = histogram.encode([Image.new("RGB", (50, 40), (255, 0, 0))])[0]
    assert red.shape == (515,) and red.dtype == np.float32
    assert abs(float(np.linalg.norm(red)) - 1) < 1e-6
    assert np.count_nonzero(red[:512]) == 1 and red[512] > 0 and red[513] == red[514] == 0
    vectors = histogram.encode(augmented(4))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    with pytest.raises(EncoderError, match="no classifier"):
        histogram.classify([red])


def odd_images() -> dict[str, bytes | Image.Image]:
    def save(image: Image.Image, fmt: str, **kwargs) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **kwargs)
        return buffer.getvalue()

    cat = photo("chelsea.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    palette = cat.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    frames = [cat, ImageOps.mirror(cat)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    grey16 = (np.asarray(cat.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    return {
        "cmyk_jpeg": save(cat.convert("CMYK"), "JPEG"),
        "png_16bit": save(Image.fromarray(grey16), "PNG"),
        "palette_gif_transparency": save(palette, "GIF", transparency=0),
        "exif_rotated_jpeg": save(cat, "JPEG", exif=exif.tobytes()),
        "animated_gif": buffer.getvalue(),
        "greyscale": save(cat.convert("L"), "PNG"),
        "rgba_png": save(cat.convert("RGBA"), "PNG"),
    }


@pytest.mark.slow
def test_odd_images_encode(lite0, histogram):
    images = odd_images()
    for encoder in (lite0, histogram):
        vectors = encoder.encode(list(images.values()))
        assert vectors.shape == (len(images), encoder.dim)
        assert np.isfinite(vectors).all()
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Every variant is still the same cat to the neural encoder.
    vectors = lite0.encode(list(images.values()))
    reference = lite0.encode([photo("chelsea.png")])[0]
    assert (vectors @ reference).min() > 0.6


@pytest.mark.slow
def test_tfhub_loads_the_built_savedmodel_directory(lite0):
    by_path = get_encoder(lite0.source)
    assert type(by_path) is type(lite0) and by_path is not lite0  # same runtime, own instance
    assert by_path.dim == 1280 and by_path.input_size == 224 and by_path.has_classifier()
    assert by_path.fingerprint == lite0.fingerprint  # same weights, same preprocessing
    images = [photo("coffee.png"), photo("rocket.jpg")]
    np.testing.assert_allclose(by_path.encode(images), lite0.encode(images), atol=1e-6)


@pytest.mark.slow
def test_tfhub_loads_a_foreign_savedmodel(tmp_path):
    directory = save_tiny_savedmodel(tmp_path / "tiny")
    encoder = get_encoder(str(directory))
    assert encoder.dim == 8 and not encoder.has_classifier()
    assert encoder.source == str(directory.resolve())
    vectors = encoder.encode([Image.new("RGB", (10, 10), (255, 0, 0)), photo("coffee.png")])
    assert vectors.shape == (2, 8)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    with pytest.raises(EncoderError, match="no classifier"):
        encoder.classify([photo("coffee.png")])


def test_tfhub_url_offline_fails_fast_and_clearly(monkeypatch):
    """Offline, a TF Hub URL costs one connection attempt with a short timeout, never a download
    (urlopen has no timeout and would hang), and the error says what to do instead."""
    import tensorflow_hub

    from search.encoders import tfhub

    attempts: list[tuple[tuple[str, int], float | None]] = []
    downloads: list[str] = []

    def unreachable(address, timeout=None, *args, **kwargs):
        attempts.append((address, timeout))
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    def download(handle, *args, **kwargs):
        downloads.append(handle)
        raise AssertionError("the download layer must not be reached offline")

    for proxy in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(tfhub.socket, "create_connection", unreachable)
    monkeypatch.setattr(tensorflow_hub, "KerasLayer", download)

    with pytest.raises(EncoderError) as caught:
        get_encoder("efficientnet-v2-s")
    message = caught.value.message
    assert "efficientnet_v2_imagenet1k_s" in message
    assert "cannot download" in message and "efficientnet-lite0" in message
    assert "Network is unreachable" in message
    assert caught.value.status_code == 503
    with pytest.raises(EncoderError, match="cannot download"):
        get_encoder("https://tfhub.dev/google/some/model/1")
    # Fast: one bounded attempt per model, no retries, and the downloader never called.
    assert attempts == [(("tfhub.dev", 443), tfhub.CONNECT_TIMEOUT_S)] * 2
    assert 0 < tfhub.CONNECT_TIMEOUT_S <= 5
    assert downloads == []


def test_missing_directory_is_an_encoder_error(tmp_path):
    with pytest.raises(EncoderError, match="Unknown encoder"):
        get_encoder(str(tmp_path / "missing"))


FINGERPRINT_SCRIPT = """
import django, json
django.setup()
from search.encoders import get_encoder
print(json.dumps({n: get_encoder(n).fingerprint for n in ["histogram", "efficientnet-lite0"]}))
"""


@pytest.mark.slow
def test_fingerprints_differ_and_are_stable_across_processes(lite0, histogram):
    assert lite0.fingerprint != histogram.fingerprint
    assert all(
        0 < len(fp) <= 64 and int(fp, 16) >= 0 for fp in (lite0.fingerprint, histogram.fingerprint)
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crier_site.settings_test",
        "CRIER_MODEL_DIR": str(settings.CRIER_MODEL_DIR),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    output = subprocess.run(
        [sys.executable, "-c", FINGERPRINT_SCRIPT],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    other = json.loads(output.strip().splitlines()[-1])
    assert other == {"histogram": histogram.fingerprint, "efficientnet-lite0": lite0.fingerprint}


@pytest.mark.slow
def test_build_is_cached(lite0):
    target = Path(lite0.source)
    before = (target / "saved_model.pb").stat().st_mtime_ns
    assert lite_build.build("efficientnet-lite0", target.parent) == target
    assert (target / "saved_model.pb").stat().st_mtime_ns == before


@pytest.mark.slow
def test_concurrent_builds_export_once_and_swap_atomically(tmp_path, monkeypatch):
    model_dir = tmp_path / "models"
    exports = []
    real_export = lite_build._export

    def counting_export(variant, directory):
        exports.append(directory)
        real_export(variant, directory)

    monkeypatch.setattr(lite_build, "_export", counting_export)
    results: list[Path] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(lite_build.build("efficientnet-lite0", model_dir))
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(exports) == 1 and results == [model_dir / "efficientnet-lite0"] * 2
    assert sorted(p.name for p in model_dir.iterdir()) == [
        ".efficientnet-lite0.lock",
        "efficientnet-lite0",
    ]
    (model_dir / "efficientnet-lite0" / "crier-encoder.json").write_text("{}")  # stale manifest
    lite_build.build("efficientnet-lite0", model_dir)
    assert len(exports) == 2
    assert (
        json.loads((model_dir / "efficientnet-lite0" / "crier-encoder.json").read_text())["dim"]
        == 1280
    )


@pytest.mark.slow
def test_info_and_prepare_commands(capsys, lite0):
    call_command("encoder", "info", "histogram")
    out = capsys.readouterr().out
    assert "histogram" in out and "515" in out and "builtin" in out
    call_command("encoder", "prepare")
    out = capsys.readouterr().out
    assert "efficientnet-lite0 ready" in out and lite0.fingerprint in out
    call_command("encoder", "info")
    out = capsys.readouterr().out
    assert "1280" in out and "224" in out and lite0.source in out
    call_command("encoder", "prepare", "--selectable")
    ready = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert ready == [name for name, _ in encoder_choices()]
    assert {"efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"} <= set(ready)
