"""Pages of the corpora app."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest

from corpora import selectors
from crier_site.errors import NotFound


def image_file(request: HttpRequest, corpus_id: int, image_id: int) -> FileResponse:
    """The bytes of one image, only for those who may read its corpus."""
    try:
        corpus = selectors.get_readable_corpus(user=request.user, corpus_id=corpus_id)
        record = selectors.get_image(corpus=corpus, image_id=image_id)
    except NotFound as exc:
        raise Http404(exc.message) from None
    try:
        handle = record.file.open("rb")
    except FileNotFoundError:
        raise Http404("The image file is missing.") from None
    response = FileResponse(handle, content_type=record.content_type)
    response["Cache-Control"] = "private, max-age=3600" if not corpus.is_public else "max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
