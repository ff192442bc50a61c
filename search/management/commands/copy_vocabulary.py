"""``manage.py copy_vocabulary``: make copy search's vocabulary of visual words again
(``search/copies/vocabulary.npy``, docs/copies.md "Candidates from the visual words").

k-means (k-means++, ``cv2.kmeans``, seeded) of the RootSIFT descriptors, as the service stores
them, of pictures the project may ship and the copy sets never use as targets: 60 synthetic
renderings (``copies_set.unrelated_picture`` at seeds ``[99, i]``), scikit-image's horse, logo,
phantom and chessboard, matplotlib's logo2. Kept as float16 (the centres to ~3 digits). A new
file is a new ``words.VERSION``: every stored image's words are made again from its stored
descriptors by the next run of the encoding job.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandParser

from search.copies import words as visual_words

PICTURES = 60
SKIMAGE = ("horse.png", "logo.png", "phantom.png", "chessboard_RGB.png")


def training_pictures() -> list:
    import matplotlib
    import skimage
    from PIL import Image

    from search.evaluation.copies_set import unrelated_picture

    pictures = [
        unrelated_picture(np.random.default_rng([99, i]), (512, 400)) for i in range(PICTURES)
    ]
    data = Path(skimage.__file__).parent / "data"
    pictures += [Image.open(data / name).convert("RGB") for name in SKIMAGE]
    samples = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data"
    pictures.append(Image.open(samples / "logo2.png").convert("RGB"))
    return pictures


def make_vocabulary(words: int, seed: int = 0) -> np.ndarray:
    from search.copies import local
    from search.copies.opencv import cv2

    descriptors = np.concatenate([local.extract(p).descriptors for p in training_pictures()])
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, 20, 0.5)
    _, _, centres = cv2.kmeans(
        descriptors.astype(np.float32), words, None, criteria, 1, cv2.KMEANS_PP_CENTERS
    )
    return centres.astype(np.float16)


class Command(BaseCommand):
    help = "Make copy search's vocabulary of visual words (search/copies/vocabulary.npy)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--words", type=int, default=1024)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--out", type=Path, default=visual_words.VOCABULARY_FILE)

    def handle(self, *args, **options) -> None:
        centres = make_vocabulary(options["words"], options["seed"])
        np.save(options["out"], centres)
        self.stdout.write(f"{len(centres)} words written to {options['out']}")
