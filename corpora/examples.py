"""The public example corpus: real photos shipped with scikit-image, owned by a system user."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from corpora import services
from corpora.models import Corpus, Visibility
from corpora.services import IngestReport

EXAMPLE_OWNER = "crier-examples"
EXAMPLE_NAME = "Example photos"
EXAMPLE_DESCRIPTION = (
    "Sample photographs that ship with scikit-image: an astronaut, a cat, a cup of coffee, "
    "a rocket, coins, a horse, textures and microscope images. Search it with any picture."
)
# scikit-image's sample photographs and scans: no synthetic test patterns (chessboard,
# phantom, colour wheel), no silhouettes or logos, nothing tiny, one motorcycle stereo view.
# The evaluation's near-duplicate set and the benchmarks draw from this list too.
SAMPLE_PHOTOS = (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
    "coffee.png", "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png",
    "moon.png", "motorcycle_left.png", "page.png", "retina.jpg", "rocket.jpg", "text.png",
)  # fmt: skip
# The example corpus also shows a colour chart, a horse silhouette and a logo.
EXAMPLE_FILES = tuple(sorted((*SAMPLE_PHOTOS, "color.png", "horse.png", "logo.png")))


def sample_photo_path(name: str) -> Path:
    """Where scikit-image keeps the sample image ``name`` (it may not exist)."""
    import skimage

    return Path(skimage.__file__).parent / "data" / name


def example_photo_paths() -> list[Path]:
    paths = [sample_photo_path(name) for name in EXAMPLE_FILES]
    return [path for path in paths if path.is_file()]


def get_example_corpus() -> Corpus | None:
    return Corpus.objects.live().filter(owner__username=EXAMPLE_OWNER, name=EXAMPLE_NAME).first()


def seed_example_corpus(*, index: bool = True) -> tuple[Corpus, IngestReport, str | None]:
    """Create or complete the example corpus; with ``index``, encode and index it before
    returning (and answer the indexing summary), else leave that to the worker."""
    owner = _example_owner()
    corpus = Corpus.objects.live().filter(owner=owner, name=EXAMPLE_NAME).first()
    if corpus is None:
        corpus = services.create_corpus(
            owner=owner,
            name=EXAMPLE_NAME,
            description=EXAMPLE_DESCRIPTION,
            visibility=Visibility.PUBLIC,
        )
    handles = [path.open("rb") for path in example_photo_paths()]
    try:
        with transaction.atomic():
            report = services.ingest_files(
                corpus=corpus,
                files=[(Path(handle.name).name, handle) for handle in handles],
                metadata={"source": "scikit-image sample data"},
                enqueue=not index,
            )
    finally:
        for handle in handles:
            handle.close()
    summary = services.index_now(corpus_id=corpus.pk) if index else None
    corpus.refresh_from_db()
    return corpus, report, summary


def _example_owner():
    user_model = get_user_model()
    owner, created = user_model.objects.get_or_create(
        username=EXAMPLE_OWNER, defaults={"is_active": False}
    )
    if created:
        owner.set_unusable_password()
        owner.save(update_fields=["password"])
    return owner
