"""Which encoder names a corpus may store.

``corpora`` only stores a corpus's encoder name. The ``search`` app owns the encoders and
registers its catalogue when Django starts (``search.apps.SearchConfig.ready``), so corpora
validates names without importing search. Without a catalogue only the site's default is known.
(How an upload becomes an encoder's input is search's: ``corpora.preparation``'s upload
companion.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class EncoderCatalogue:
    names: Callable[[], list[str]]
    """Every name an encoder can be built from."""
    choices: Callable[[], list[tuple[str, str]]]
    """(name, description) of the encoders users may pick, the site's default first."""
    accepts: Callable[[str], bool]
    """Whether a name that is not in ``names`` still denotes an encoder (a model URL or folder)."""


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

