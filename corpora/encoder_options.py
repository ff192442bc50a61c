"""Which encoder names a corpus may store, and how uploads are prepared for them.

``corpora`` only stores a corpus's encoder name. The ``search`` app owns the encoders and
registers its catalogue when Django starts (``search.apps.SearchConfig.ready``), so corpora
validates names without importing search. Without a catalogue only the site's default is known.
The catalogue also says, where it can without loading a model, how an upload becomes the
encoder's input (``corpora.model_inputs``): ingestion then decodes each upload once for both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from corpora.model_inputs import ModelInputRecipe

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncoderCatalogue:
    names: Callable[[], list[str]]
    """Every name an encoder can be built from."""
    choices: Callable[[], list[tuple[str, str]]]
    """(name, description) of the encoders users may pick, the site's default first."""
    accepts: Callable[[str], bool]
    """Whether a name that is not in ``names`` still denotes an encoder (a model URL or folder)."""
    model_input: Callable[[str], ModelInputRecipe | None] = lambda name: None
    """How an upload becomes the named encoder's input; None when that is not known cheaply."""


_catalogue: EncoderCatalogue | None = None


def register_encoder_catalogue(catalogue: EncoderCatalogue) -> None:
    global _catalogue
    _catalogue = catalogue


def encoder_names() -> list[str]:
    return _catalogue.names() if _catalogue else [settings.CRIER_ENCODER]


def encoder_choices() -> list[tuple[str, str]]:
    if _catalogue is None:
        return [(settings.CRIER_ENCODER, settings.CRIER_ENCODER)]
    return _catalogue.choices()


def is_known_encoder(name: str) -> bool:
    return name in encoder_names() or bool(_catalogue and _catalogue.accepts(name))


def model_input_recipe(name: str) -> ModelInputRecipe | None:
    """How an upload to a corpus of encoder ``name`` becomes that encoder's input, or None
    (no catalogue, or an encoder it cannot describe without loading it)."""
    if _catalogue is None:
        return None
    try:
        return _catalogue.model_input(name)
    except Exception:  # a broken model folder must not break uploads: they fall back
        logger.exception("No model input recipe for encoder %r", name)
        return None
