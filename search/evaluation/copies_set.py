"""The copy-detection set: pictures the project may ship, each in versions a reverse image search
must still find (cropped, inside a collage, an inset, a web-page screenshot, captioned, mirrored
and recoloured, tilted, turned, re-compressed), plus unrelated distractors.

Everything is generated from a seed, so a held-out set is the same generator with other photos
and another seed (``copy_set(part="heldout", seed=1)``): choices are tuned on ``part="tune"``
and reported on both. Targets are scikit-image's and matplotlib's sample pictures (split in two
halves, one per part); every other picture in a version (collage cells, inset backgrounds, the
page's second picture) and every distractor is a synthetic rendering drawn for that one image
only, so no two rows share anything but their target. Bump ``VERSION`` when a version changes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from search.evaluation.near_duplicates import shipped_pictures

VERSION = "c1"
MAX_SIDE = 512
# Sample pictures with enough content to be a "photo" (no test patterns, the stereo twin of
# motorcycle_left left out). The two parts take alternate entries.
SKIMAGE_PICTURES = (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
    "coffee.png", "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png",
    "moon.png", "motorcycle_left.png", "page.png", "retina.jpg", "rocket.jpg", "text.png",
    "microaneurysms.png", "color.png",
)  # fmt: skip
MATPLOTLIB_PICTURES = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png")
PARTS = ("tune", "heldout")
DISTRACTORS = 50


def target_paths(part: str) -> list[Path]:
    """The target pictures of ``part``: alternate entries of the shipped sample pictures."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}")
    return shipped_pictures(SKIMAGE_PICTURES, MATPLOTLIB_PICTURES)[PARTS.index(part) :: 2]


@lru_cache(maxsize=8)
def load_target(path: Path) -> Image.Image:
    image = Image.open(path).convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return image


# --- synthetic renderings: unrelated pictures -----------------------------------------------


def _noise_field(rng: np.random.Generator, size: tuple[int, int], octaves: int = 5) -> np.ndarray:
    """Fractal value noise in [0, 1], (h, w)."""
    w, h = size
    out = np.zeros((h, w), dtype=np.float32)
    amplitude, total = 1.0, 0.0
    for octave in range(octaves):
        cells = 2 ** (octave + 2)
        grid = rng.random((cells, cells)).astype(np.float32)
        layer = Image.fromarray((grid * 255).astype(np.uint8)).resize(
            (w, h), Image.Resampling.BICUBIC
        )
        out += amplitude * np.asarray(layer, dtype=np.float32) / 255
        total += amplitude
        amplitude *= 0.55
    out /= total
    return (out - out.min()) / max(float(np.ptp(out)), 1e-6)


def _palette(rng: np.random.Generator, n: int = 4) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3)).astype(np.float32)


def _colourise(field: np.ndarray, colours: np.ndarray) -> Image.Image:
    stops = np.linspace(0, 1, len(colours))
    rgb = np.stack([np.interp(field, stops, colours[:, c]) for c in range(3)], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8))


def _render_clouds(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    return _colourise(_noise_field(rng, size), _palette(rng, 5))


def _render_shapes(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = size
    image = _colourise(_noise_field(rng, size, octaves=2), _palette(rng, 2))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(12, 40))):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = rng.random(2) * (w, h)
        r = rng.uniform(0.02, 0.18) * min(w, h)
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.ellipse((x - r, y - r * rng.uniform(0.4, 1.0), x + r, y + r), fill=colour)
        elif kind == 1:
            points = [
                (x + r * math.cos(a), y + r * math.sin(a))
                for a in np.sort(rng.uniform(0, 2 * math.pi, int(rng.integers(3, 7))))
            ]
            draw.polygon(points, fill=colour)
        else:
            draw.line(
                (x, y, x + rng.normal() * r * 3, y + rng.normal() * r * 3),
                fill=colour,
                width=int(rng.integers(2, 9)),
            )
    return image


def _render_landscape(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = size
    sky_top, sky_bottom = _palette(rng, 2)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky = (sky_top * (1 - t) + sky_bottom * t) * np.ones((1, w, 1), dtype=np.float32)
    image = Image.fromarray(sky.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    sx, sy, sr = rng.uniform(0.1, 0.9) * w, rng.uniform(0.05, 0.35) * h, rng.uniform(0.04, 0.1) * w
    draw.ellipse(
        (sx - sr, sy - sr, sx + sr, sy + sr), fill=tuple(int(v) for v in _palette(rng, 1)[0])
    )
    for layer in range(int(rng.integers(2, 5))):
        base = h * (0.35 + 0.15 * layer + rng.uniform(0, 0.1))
        ridge = np.cumsum(rng.normal(0, h * 0.015, 64))
        xs = np.linspace(0, w, 64)
        points = [(0, h)] + [(float(x), float(base + y)) for x, y in zip(xs, ridge, strict=True)]
        draw.polygon([*points, (w, h)], fill=tuple(int(v) for v in _palette(rng, 1)[0]))
    return image.filter(ImageFilter.GaussianBlur(0.8))


def _render_fractal(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = size
    c = complex(rng.uniform(-0.8, 0.4), rng.uniform(-0.7, 0.7))
    zoom = rng.uniform(0.6, 1.6)
    ys, xs = np.mgrid[-1 : 1 : h * 1j, -w / h : w / h : w * 1j]
    z = (xs + 1j * ys) * zoom + complex(rng.normal(0, 0.2), rng.normal(0, 0.2))
    count = np.zeros(z.shape, dtype=np.float32)
    for _ in range(48):
        alive = np.abs(z) <= 4
        z[alive] = z[alive] ** 2 + c
        count += alive
    field = np.sqrt(count / count.max())
    return _colourise(field, _palette(rng, 4))


def _render_stripes(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    frequency = rng.uniform(0.01, 0.08)
    wobble = _noise_field(rng, size, octaves=3) * rng.uniform(2, 12)
    field = 0.5 + 0.5 * np.sin((xs * math.cos(angle) + ys * math.sin(angle)) * frequency + wobble)
    return _colourise(field, _palette(rng, 3))


RENDERERS: tuple[Callable[[np.random.Generator, tuple[int, int]], Image.Image], ...] = (
    _render_clouds, _render_shapes, _render_landscape, _render_fractal, _render_stripes,
)  # fmt: skip


def unrelated_picture(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A synthetic picture of ``size``, drawn from ``rng`` only."""
    renderer = RENDERERS[int(rng.integers(len(RENDERERS)))]
    return renderer(rng, size)


# --- the versions ---------------------------------------------------------------------------


def _fit(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    copy = image.copy()
    copy.thumbnail(box, Image.Resampling.LANCZOS)
    return copy


def _words(rng: np.random.Generator, n: int) -> str:
    syllables = ["ka", "lo", "mi", "ter", "sun", "pa", "ri", "ven", "do", "sel", "an", "mor"]
    return " ".join(
        "".join(rng.choice(syllables, int(rng.integers(1, 4)))) for _ in range(n)
    ).capitalize()


def original(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return image


def crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A tight crop (about 30 % of the area, anywhere), zoomed back to the original size."""
    w, h = image.size
    share = math.sqrt(rng.uniform(0.25, 0.35))
    cw, ch = int(w * share), int(h * share)
    left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return image.crop((left, top, left + cw, top + ch)).resize((w, h), Image.Resampling.BICUBIC)


def collage(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One cell of a 2×2 collage; the three other cells are unrelated pictures."""
    cell = int(rng.integers(360, 480))
    gap = int(rng.integers(4, 16))
    side = 2 * cell + 3 * gap
    background = tuple(int(v) for v in rng.integers(200, 256, 3))
    canvas = Image.new("RGB", (side, side), background)
    where = int(rng.integers(4))
    for n in range(4):
        x, y = gap + (n % 2) * (cell + gap), gap + (n // 2) * (cell + gap)
        if n == where:
            picture = _fit(image, (cell, cell))
        else:
            picture = unrelated_picture(rng, (cell, int(cell * rng.uniform(0.7, 1.0))))
        canvas.paste(picture, (x + (cell - picture.width) // 2, y + (cell - picture.height) // 2))
    return canvas


def inset(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A small copy (about a third of the width) on a larger unrelated picture."""
    w, h = int(rng.integers(800, 1100)), int(rng.integers(600, 850))
    canvas = unrelated_picture(rng, (w, h))
    small = _fit(image, (int(w * rng.uniform(0.28, 0.36)), int(h * 0.45)))
    if rng.random() < 0.5:
        small = ImageOps.expand(small, border=int(rng.integers(2, 6)), fill=(255, 255, 255))
    x = int(rng.integers(10, w - small.width - 10))
    y = int(rng.integers(10, h - small.height - 10))
    canvas.paste(small, (x, y))
    return canvas


def screenshot(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A web page: a title bar, headings and paragraphs of text, the picture beside another."""
    w, h = int(rng.integers(1100, 1400)), int(rng.integers(760, 900))
    page = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    bar = tuple(int(v) for v in rng.integers(20, 120, 3))
    draw.rectangle((0, 0, w, 56), fill=bar)
    draw.text((24, 14), _words(rng, 3), fill=(255, 255, 255), font=ImageFont.load_default(26))
    draw.text((40, 80), _words(rng, 6), fill=(20, 20, 20), font=ImageFont.load_default(30))
    picture_w = int(w * rng.uniform(0.3, 0.38))
    picture = _fit(image, (picture_w, int(h * 0.55)))
    other = unrelated_picture(rng, (int(w * rng.uniform(0.25, 0.33)), int(h * 0.4)))
    top = 140
    left_first = rng.random() < 0.5
    first, second = (picture, other) if left_first else (other, picture)
    page.paste(first, (40, top))
    page.paste(second, (40 + first.width + 30, top))
    body = ImageFont.load_default(18)
    text_left = 40 + first.width + second.width + 60
    y = top
    while y < h - 30:
        if text_left < w - 150:
            draw.text((text_left, y), _words(rng, 4), fill=(60, 60, 60), font=body)
        y += 28
    y = top + max(first.height, second.height) + 24
    while y < h - 24:
        draw.text((40, y), _words(rng, 12), fill=(60, 60, 60), font=body)
        y += 26
    return page


def caption(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Bands of solid colour above and below with a caption and a credit in them."""
    w, h = image.size
    top, bottom = int(h * rng.uniform(0.12, 0.22)), int(h * rng.uniform(0.1, 0.2))
    shade = int(rng.choice([0, 255]))
    band = (shade, shade, shade)
    ink = (255 - shade,) * 3
    canvas = Image.new("RGB", (w, h + top + bottom), band)
    canvas.paste(image, (0, top))
    draw = ImageDraw.Draw(canvas)
    draw.text(
        (12, top * 0.2),
        _words(rng, 4).upper(),
        fill=ink,
        font=ImageFont.load_default(int(top * 0.5)),
    )
    draw.text(
        (12, top + h + bottom * 0.25),
        _words(rng, 5),
        fill=ink,
        font=ImageFont.load_default(int(bottom * 0.4)),
    )
    return canvas


def mirror_recolour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Mirrored, with another colour balance, saturation and contrast."""
    mirrored = np.asarray(ImageOps.mirror(image), dtype=np.float32)
    gains = rng.uniform(0.7, 1.3, 3).astype(np.float32)
    tinted = np.clip(mirrored * gains + rng.uniform(-20, 20, 3), 0, 255).astype(np.uint8)
    out = ImageEnhance.Color(Image.fromarray(tinted)).enhance(rng.uniform(0.5, 1.6))
    return ImageEnhance.Contrast(out).enhance(rng.uniform(0.8, 1.25))


def tilt(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Turned by 8–15° either way on a plain background, the whole picture kept."""
    angle = float(rng.uniform(8, 15) * rng.choice([-1, 1]))
    fill = tuple(int(v) for v in rng.integers(0, 256, 3))
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)


def quarter_turn(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return image.transpose(
        Image.Transpose.ROTATE_90 if rng.random() < 0.5 else Image.Transpose.ROTATE_270
    )


def degraded(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Half size, blurred, then JPEG at a low quality."""
    small = image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)
    small = small.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 1.8)))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=int(rng.integers(8, 16)))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


VERSIONS: dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]] = {
    "original": original,
    "crop": crop,
    "collage": collage,
    "inset": inset,
    "screenshot": screenshot,
    "caption": caption,
    "mirror_recolour": mirror_recolour,
    "tilt": tilt,
    "quarter_turn": quarter_turn,
    "degraded": degraded,
}
DISTRACTOR = "distractor"


@dataclass(frozen=True)
class CopyItem:
    target: int  # index into the set's targets; -1 for a distractor
    version: str  # a key of VERSIONS, or DISTRACTOR
    seed: tuple[int, ...]  # what the item's generator is seeded with


@dataclass(frozen=True)
class CopySet:
    part: str
    seed: int
    targets: list[Path]
    items: list[CopyItem]

    @property
    def name(self) -> str:
        return f"copies-{self.part}"

    @property
    def key(self) -> str:
        return f"copies-{VERSION}-{self.part}-{self.seed}-{len(self.targets)}x{len(self.items)}"

    def render(self, row: int) -> Image.Image:
        item = self.items[row]
        rng = np.random.default_rng(list(item.seed))
        if item.version == DISTRACTOR:
            w, h = int(rng.integers(380, 700)), int(rng.integers(300, 600))
            return unrelated_picture(rng, (w, h))
        return VERSIONS[item.version](load_target(self.targets[item.target]), rng)


def copy_set(
    *, part: str = "tune", seed: int = 0, targets: int | None = None, distractors: int = DISTRACTORS
) -> CopySet:
    """Every target of ``part`` (the first ``targets`` of them) in every version, then
    ``distractors`` unrelated pictures."""
    paths = target_paths(part)[:targets]
    items = [
        CopyItem(target=t, version=name, seed=(seed, PARTS.index(part), t, v))
        for t in range(len(paths))
        for v, name in enumerate(VERSIONS)
    ]
    items += [
        CopyItem(target=-1, version=DISTRACTOR, seed=(seed, PARTS.index(part), 1000 + d))
        for d in range(distractors)
    ]
    return CopySet(part=part, seed=seed, targets=paths, items=items)
